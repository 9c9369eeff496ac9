"""RLMRec's two alignments between CF representations and fixed LLM-profile semantic vectors (spec §5).

Con (§5.2): InfoNCE between each CF vector and the MLP-projected (down to the CF width) semantic vector of the same
node. Gen (§5.3): mask a fraction of all nodes' ID embeddings with one learnable token, propagate, lift the masked
nodes' outputs with an MLP to the semantic width and reconstruct their semantic vectors with an InfoNCE.
Both are modules of their own so the trainer's L2 term covers their parameters (spec §3.2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llmrec_cli.errors import LLMRecError
from llmrec_cli.rlmrec.backbones.base import Batch, infonce_indexed

PRECISIONS = ("fp32", "bf16")


def precision_of(hp: dict) -> str:
    """hp["align_precision"]: fp32 (default, as the paper) or bf16 (the wide matrix products in bfloat16 autocast)."""
    precision = str(hp.get("align_precision", "fp32"))
    if precision not in PRECISIONS:
        raise LLMRecError(f"align_precision {precision!r}: choose fp32 or bf16")
    return precision


def wide_products(precision: str, device: torch.device):
    """Autocast for the products with the semantic width (the MLP layers, Gen's similarity matrix): bf16 halves
    their memory traffic and uses the bf16 units of recent CPUs and GPUs; losses and softmaxes stay in fp32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def mlp(d_in: int, d_out: int, hidden: int) -> nn.Sequential:
    """Linear -> LeakyReLU(0.01) -> Linear, xavier_uniform weights, PyTorch-default biases (spec §3.2)."""
    net = nn.Sequential(nn.Linear(d_in, hidden), nn.LeakyReLU(0.01), nn.Linear(hidden, d_out))
    for layer in (net[0], net[2]):
        nn.init.xavier_uniform_(layer.weight)
    return net


class ConAlignment(nn.Module):
    """RLMRec-Con (spec §5.2). sigma_down: d_s -> (d_s + d_out)//2 -> d_out.

    L_con = [InfoNCE(e_u, p_u, all I projected users) + InfoNCE(e_pos, p_pos, the B projected positives)
             + InfoNCE(e_neg, p_neg, the B projected negatives)] / B, candidates keeping duplicates; returned times
    kd_weight. ``use_negatives`` false (AutoCF_plus) drops the third term; it defaults to hp["use_negatives"] or true.
    """

    def __init__(self, sem_dim: int, out_dim: int, hp: dict, use_negatives: bool | None = None):
        super().__init__()
        self.kd_weight = float(hp["kd_weight"])
        self.kd_temperature = float(hp["kd_temperature"])
        self.use_negatives = bool(hp.get("use_negatives", True) if use_negatives is None else use_negatives)
        self.precision = precision_of(hp)
        self.down = mlp(sem_dim, out_dim, (sem_dim + out_dim) // 2)

    def loss(self, final: torch.Tensor, batch: Batch, sem_users: torch.Tensor, sem_items: torch.Tensor) -> torch.Tensor:
        n_users, b, t = sem_users.shape[0], batch.users.numel(), self.kd_temperature
        # Project only the rows the loss reads: every user (the anchor candidates) and the batch's distinct items;
        # the MLP is row-wise, so this equals projecting everything and indexing.
        items = torch.cat([batch.pos, batch.neg]) if self.use_negatives else batch.pos
        uniq, where = torch.unique(items, return_inverse=True)
        with wide_products(self.precision, final.device):
            p_users, p_items = self.down(sem_users).float(), self.down(sem_items[uniq]).float()[where]
        e_users, e_items = final[batch.users], final[n_users + items]
        rows = torch.arange(b, device=final.device)  # positive k of the pos/neg terms is candidate k
        loss = infonce_indexed(e_users, p_users, batch.users, t)
        loss = loss + infonce_indexed(e_items[:b], p_items[:b], rows, t)
        if self.use_negatives:
            loss = loss + infonce_indexed(e_items[b:], p_items[b:], rows, t)
        return self.kd_weight * loss / b


class GenAlignment(nn.Module):
    """RLMRec-Gen (spec §5.3). One zero-initialised mask token (1 x d) shared by users and items;
    sigma_up: d_out -> (d_s + d_out)//2 -> d_s on the masked nodes' final representations.

    L_gen = -mean_i log( exp(c_ii/t) / (sum_{j masked} exp(c_ij/t) + 1e-8) + 1e-8 ), c_ij = cos(up(e_i), s_j),
    s pooled over users and items; returned times recon_weight.
    """

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

    def loss(self, final: torch.Tensor, idx: torch.Tensor, sem_users: torch.Tensor, sem_items: torch.Tensor) -> torch.Tensor:
        n_users = sem_users.shape[0]
        # L_gen is invariant to the order of the masked set: put users first to read each semantic table apart.
        users, items = idx[idx < n_users], idx[idx >= n_users]
        sem = torch.cat([sem_users[users], sem_items[items - n_users]])
        s = F.normalize(sem, dim=1)
        logits, diagonal = lifted_logits(self.up, final[torch.cat([users, items])], s, self.precision, self.re_temperature)
        mole = torch.exp(diagonal)
        deno = torch.exp(logits).sum(1)
        return self.recon_weight * -torch.log(mole / (deno + 1e-8) + 1e-8).mean()


def lifted_logits(up: nn.Sequential, x: torch.Tensor, s: torch.Tensor, precision: str,
                  temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
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
