"""RLMRec-Gen (docs/methods/rlmrec.md §5.3): mask a fraction of all nodes' ID embeddings with one learnable token,
propagate, lift the masked nodes' outputs with an MLP to the semantic width and reconstruct their semantic vectors
with an InfoNCE."""

from __future__ import annotations

import torch
from torch import nn

from llmrec_cli.rlmrec.alignments.base import Alignment, Semantic, mlp, precision_of, wide_products
from llmrec_cli.rlmrec.backbones.base import row_block


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
        """L_gen of the masked nodes ``idx`` (ego-table rows: users, then items) against the pooled profile vectors."""
        return self.pooled_loss(final, idx, Semantic(sem_users, sem_items).unit_pool)

    def pooled_loss(self, final: torch.Tensor, idx: torch.Tensor, unit_pool: torch.Tensor) -> torch.Tensor:
        """L_gen with the pool already normalised (Semantic.unit_pool, made once per training)."""
        profiles = unit_pool.index_select(0, idx)  # index_select gathers rows ~2x faster than unit_pool[idx]
        left, right = lifted_factors(self.up, final[idx], profiles, self.precision, self.re_temperature)
        return _MaskedNCE.apply(left, right, self.precision, self.recon_weight)

    @classmethod
    def build(cls, hp: dict, *, ego_dim: int, out_dim: int, sem_dim: int) -> "GenAlignment":
        return cls(ego_dim, out_dim, sem_dim, hp)

    def training_ego(self, ego: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mask(ego, generator)

    def alignment_loss(self, final: torch.Tensor, batch, masked: torch.Tensor, sem: Semantic) -> torch.Tensor:
        return self.pooled_loss(final, masked, sem.unit_pool)


def lifted_factors(
    up: nn.Sequential, x: torch.Tensor, s: torch.Tensor, precision: str, temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(left, right), both M x (h + 1), with left @ right.T = cos(up(x_i), s_j) / t for all pairs; s has unit rows.
    The M x d_s lift is never formed.

    With h_i = LeakyReLU(W1 x_i + b1) and u_i = W2 h_i + b2: u_i . s_j = h_i . P_j + q_j (P = s W2, q = s b2), so
    logits_ij = [h_i, 1] . [P_j, q_j] / (||u_i|| t): the M x M product runs at the hidden width (d_s + d)/2 + 1
    instead of d_s, the row scaling and q folded into the two factors. Under bf16 the products run in autocast.
    """
    w, b = up[2].weight, up[2].bias
    with wide_products(precision, x.device):
        hidden = up[1](up[0](x)).to(x.dtype)
        right = (s @ torch.cat([w, b[:, None]], 1)).to(x.dtype)  # [P, q] in one product
    return _ScaledRows.apply(hidden, w, b, precision, temperature), right


class _ScaledRows(torch.autograd.Function):
    """left = [h_i, 1] / (||u_i|| t), u_i = W2 h_i + b2, with ||u_i||^2 = h_i^T G h_i + 2 (W2^T b2) . h_i + ||b2||^2
    from the h x h Gram matrix G = W2^T W2, clamped at 1e-24 before the root (F.normalize clamps the norm at 1e-12).

    The backward is written out: it reuses the forward's G h, takes dL/dW2 = W2 (D + D^T) + b2 (dL/dc)^T with
    D = sum_i g_i h_i h_i^T in one product where autograd takes two (G is symmetric), and builds dL/dh in one buffer
    where autograd's concatenation, row scaling and norm graph each make and add M x h tensors.
    """

    @staticmethod
    def forward(ctx, hidden, w, b, precision, temperature):
        with wide_products(precision, hidden.device):
            spread = (hidden @ (w.T @ w).to(hidden.dtype)).to(hidden.dtype)
        c = w.T @ b
        squares = torch.linalg.vecdot(spread, hidden) + 2 * (hidden @ c) + b @ b
        clamped = squares.clamp_min(1e-24)
        scale = 1.0 / (clamped.sqrt() * temperature)
        left = hidden.new_empty((hidden.shape[0], hidden.shape[1] + 1))
        torch.mul(hidden, scale[:, None], out=left[:, :-1])
        left[:, -1] = scale
        ctx.save_for_backward(hidden, w, b, spread, c, scale, clamped, squares >= 1e-24)
        ctx.precision = precision
        return left

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        hidden, w, b, spread, c, scale, clamped, live = ctx.saved_tensors
        d_scale = torch.linalg.vecdot(grad[:, :-1], hidden) + grad[:, -1]
        g = d_scale * (-0.5 * scale / clamped) * live  # dL/d||u_i||^2 (zero where the clamp holds)
        d_hidden = grad[:, :-1] * scale[:, None]
        d_hidden.addcmul_(spread.add_(c), (2 * g)[:, None])  # + 2 g_i (G h_i + W2^T b2)
        with wide_products(ctx.precision, hidden.device):
            d_gram = (hidden.T @ (g[:, None] * hidden)).to(w.dtype)
            d_w = (w @ (d_gram + d_gram.T)).to(w.dtype)
        d_c = 2 * (hidden.T @ g)
        return d_hidden, d_w + torch.outer(b, d_c), w @ d_c + 2 * g.sum() * b, None, None


class _MaskedNCE(torch.autograd.Function):
    """weight * mean_i -log( exp(c_ii) / (sum_j exp(c_ij) + 1e-8) + 1e-8 ), c = left @ right.T.

    Like the Con InfoNCE (backbones/base.py), forward walks the M x M logits in blocks of rows on the CPU, turns each
    block's exp in place into dL/dc and takes both factors' gradients right away (dL/dleft = G right,
    dL/dright = G^T left): one pass over the logits instead of autograd's several, and no M x M tensor kept for
    backward. c_ii is read off the block's own diagonal, and its numerator term is added to that diagonal of dL/dc,
    so neither needs a pass of its own. The weight rides in dL/dc's row factor, so backward has nothing to scale
    when the term enters the total loss as it is (gradient 1). No max is subtracted, as in the formula (|c| <= 1/t).
    """

    @staticmethod
    def forward(ctx, left, right, precision, weight):
        m = left.shape[0]
        block = row_block(m, m, left.device)
        ratio = left.new_empty(m)
        grad_left, grad_right = torch.empty_like(left), torch.empty_like(right)
        buffer = left.new_empty((min(block, m), m))
        for start in range(0, m, block):
            rows = slice(start, start + block)
            left_rows = left[rows]
            e = _product(left_rows, right.T, precision, buffer[: left_rows.shape[0]])
            diagonal = e.diagonal(offset=start)  # a view of c_ii, exp(c_ii) once exp_ has run
            e.exp_()
            deno = e.sum(1) + 1e-8
            r = ratio[rows] = diagonal / deno
            # dL/dc_ij = coef_i exp(c_ij) / deno_i - [i = j] coef_i, coef_i = weight r_i / ((r_i + 1e-8) M)
            coef = weight * r / ((r + 1e-8) * m)
            e.mul_((coef / deno)[:, None])
            diagonal.sub_(coef)
            _product(e, right, precision, grad_left[rows])
            _product(e.T, left_rows, precision, grad_right, accumulate=start > 0)
        ctx.grads = grad_left, grad_right
        return weight * -torch.log(ratio + 1e-8).mean()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        grad_left, grad_right = ctx.grads
        if grad.device.type != "cpu" or float(grad) != 1.0:  # reading a CPU scalar costs nothing; a GPU one syncs
            grad_left.mul_(grad)
            grad_right.mul_(grad)
        return grad_left, grad_right, None, None


def _product(a: torch.Tensor, b: torch.Tensor, precision: str, out: torch.Tensor, accumulate: bool = False):
    """a @ b written into (or, with accumulate, added to) ``out``; under bf16 the product runs in autocast."""
    if precision == "fp32":
        return out.addmm_(a, b) if accumulate else torch.mm(a, b, out=out)
    with wide_products(precision, a.device):
        product = torch.mm(a, b)
    return out.add_(product) if accumulate else out.copy_(product)


ALIGNMENT = GenAlignment
