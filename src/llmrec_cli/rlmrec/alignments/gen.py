"""RLMRec-Gen (docs/methods/rlmrec.md §5.3): mask a fraction of all nodes' ID embeddings with one learnable token,
propagate, lift the masked nodes' outputs with an MLP to the semantic width and reconstruct their semantic vectors
with an InfoNCE."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llmrec_cli.rlmrec.alignments.base import Alignment, Semantic, mlp, precision_of, wide_products


class GenAlignment(Alignment):
    """RLMRec-Gen (docs/methods/rlmrec.md §5.3). One zero-initialised mask token (1 x d) shared by users and items;
    sigma_up: d_out -> (d_s + d_out)//2 -> d_s on the masked nodes' final representations.

    L_gen = -mean_i log( exp(c_ii/t) / (sum_{j masked} exp(c_ij/t) + 1e-8) + 1e-8 ), c_ij = cos(up(e_i), s_j),
    s pooled over users and items; returned times recon_weight.
    """

    name = "gen"
    weight_key = "recon_weight"
    needs_embeddings = True
    defaults = {"align_precision": "fp32"}

    def __init__(self, dim: int, out_dim: int, sem_dim: int, hp: dict):
        super().__init__()
        self.mask_ratio = float(hp["mask_ratio"])
        self.recon_weight = float(hp["recon_weight"])
        self.re_temperature = float(hp["re_temperature"])
        self.precision = precision_of(hp)
        self.mask_token = nn.Parameter(torch.zeros(1, dim))
        self.up = mlp(out_dim, sem_dim, (sem_dim + out_dim) // 2)

    def mask(self, ego: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(ego with M = max(int(n * mask_ratio), 1) random rows replaced by the mask token, their indices).
        Rows are drawn without replacement among all users and items; on the generator's device, then moved."""
        n = ego.shape[0]
        m = max(int(n * self.mask_ratio), 1)
        gen_device = generator.device if generator is not None else ego.device
        idx = torch.randperm(n, generator=generator, device=gen_device)[:m].to(ego.device)
        return ego.index_copy(0, idx, self.mask_token.expand(m, -1)), idx

    def loss(
        self, final: torch.Tensor, idx: torch.Tensor, sem_users: torch.Tensor, sem_items: torch.Tensor
    ) -> torch.Tensor:
        n_users = sem_users.shape[0]
        # L_gen is invariant to the order of the masked set: put users first to read each semantic table apart.
        users, items = idx[idx < n_users], idx[idx >= n_users]
        sem = torch.cat([sem_users[users], sem_items[items - n_users]])
        s = F.normalize(sem, dim=1)
        logits, diagonal = lifted_logits(
            self.up, final[torch.cat([users, items])], s, self.precision, self.re_temperature
        )
        mole = torch.exp(diagonal)
        deno = torch.exp(logits).sum(1)
        return self.recon_weight * -torch.log(mole / (deno + 1e-8) + 1e-8).mean()

    @classmethod
    def build(cls, hp: dict, *, ego_dim: int, out_dim: int, sem_dim: int) -> "GenAlignment":
        return cls(ego_dim, out_dim, sem_dim, hp)

    def training_ego(self, ego: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mask(ego, generator)

    def alignment_loss(self, final: torch.Tensor, batch, masked: torch.Tensor, sem: Semantic) -> torch.Tensor:
        return self.loss(final, masked, sem.users, sem.items)


def lifted_logits(
    up: nn.Sequential, x: torch.Tensor, s: torch.Tensor, precision: str, temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos(up(x_i), s_j) / t for all pairs (M x M), its diagonal); s has unit rows. The M x d_s lift is never formed.

    With h_i = LeakyReLU(W1 x_i + b1) and u_i = W2 h_i + b2: u_i . s_j = h_i . P_j + q_j (P = s W2, q = s b2), so
    logits_ij = [h_i, 1] . [P_j, q_j] / (||u_i|| t): one product at the hidden width (d_s + d)/2 instead of d_s, the
    row scaling and q folded into its M x (h + 1) factors. Under bf16 the products run in autocast.
    """
    w, b = up[2].weight, up[2].bias
    with wide_products(precision, x.device):
        hidden = up[1](up[0](x)).to(x.dtype)
    scale = 1.0 / (lift_norms(hidden, w, b, precision) * temperature)
    left = torch.cat([hidden, torch.ones_like(scale)[:, None]], 1) * scale[:, None]
    with wide_products(precision, x.device):
        right = torch.cat([s @ w, (s @ b)[:, None]], 1).to(x.dtype)
        logits = (left @ right.T).to(x.dtype)
    return logits, (left * right).sum(1)


def lift_norms(hidden: torch.Tensor, w: torch.Tensor, b: torch.Tensor, precision: str) -> torch.Tensor:
    """||W2 h_i + b2|| for every row from the h x h Gram matrix G = W2^T W2: h^T G h + 2 (W2^T b2) . h + ||b2||^2,
    clamped at 1e-12 as F.normalize does."""
    with wide_products(precision, hidden.device):
        spread = (hidden @ (w.T @ w)).to(hidden.dtype)
    squares = (spread * hidden).sum(1) + 2 * (hidden @ (w.T @ b)) + b @ b
    return squares.clamp_min(1e-24).sqrt()


ALIGNMENT = GenAlignment
