"""The contract every graph CF backbone follows, so the trainer and the alignments (Con, Gen) work with all six.

A backbone owns the user and item ID tables (stacked as one ego table: users 0..I-1, then items) and its own
propagation and loss. The trainer adds RLMRec's L2 term over *all* parameters (docs/methods/rlmrec.md §3.2) and the
alignment loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from llmrec_cli.rlmrec.graph import InteractionGraph


@dataclass
class Batch:
    users: torch.Tensor  # int64 (B,)
    pos: torch.Tensor  # int64 (B,) item ids (0..J-1)
    neg: torch.Tensor  # int64 (B,) item ids, never a training positive of the user


class Backbone(nn.Module):
    """Subclasses set ``name`` and implement :meth:`propagate` and :meth:`loss`."""

    name = "backbone"

    def __init__(self, graph: InteractionGraph, hp: dict, device: str | torch.device = "cpu"):
        super().__init__()
        self.graph = graph
        self.hp = dict(hp)
        self.n_users, self.n_items = graph.n_users, graph.n_items
        self.dim = int(hp.get("embedding_dim", 32))
        self.user_emb = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_users, self.dim)))
        self.item_emb = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_items, self.dim)))

    @property
    def out_dim(self) -> int:
        """Width of the final representation (32; GCCF: (layers + 1) * 32)."""
        return self.dim

    def ego(self) -> torch.Tensor:
        """The (I+J, d) ID embedding table, users first."""
        return torch.cat([self.user_emb, self.item_emb], dim=0)

    def propagate(self, ego: torch.Tensor, training: bool) -> torch.Tensor:
        """Final (I+J, out_dim) representations of the main (clean) view. ``training`` enables edge drop etc."""
        raise NotImplementedError

    def loss(self, batch: Batch, ego: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The backbone's own loss parts (without the L2 term) and the final representations used for scoring,
        computed from ``ego`` (the ID table, possibly with RLMRec-Gen's mask token in some rows)."""
        raise NotImplementedError

    def pick(self, table: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rows of the batch's users, positive items and negative items in an (I+J, ...) node table."""
        # one gather (and so one scatter in backward) instead of three
        rows = table[torch.cat([batch.users, self.n_users + batch.pos, self.n_users + batch.neg])]
        return rows.split(batch.users.numel())

    @torch.no_grad()
    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(users, items) representations for ranking: full graph, no dropout, no perturbation."""
        out = self.propagate(self.ego(), training=False)
        return out[: self.n_users], out[self.n_users :]


def bpr_loss(user_e: torch.Tensor, pos_e: torch.Tensor, neg_e: torch.Tensor) -> torch.Tensor:
    """mean softplus(s_neg - s_pos) with dot-product scores."""
    pos = (user_e * pos_e).sum(-1)
    neg = (user_e * neg_e).sum(-1)
    return torch.nn.functional.softplus(neg - pos).mean()


def infonce(anchor: torch.Tensor, positive: torch.Tensor, candidates: torch.Tensor, temperature: float) -> torch.Tensor:
    """sum_i [ -cos(a_i, p_i)/t + log sum_c exp(cos(a_i, c)/t) ] (docs/methods/rlmrec.md §3.3; SSLRec
    cal_infonce_loss). Not averaged."""
    a = torch.nn.functional.normalize(anchor, dim=-1)
    p = torch.nn.functional.normalize(positive, dim=-1)
    c = torch.nn.functional.normalize(candidates, dim=-1)
    pos = (a * p).sum(-1) / temperature
    return (torch.logsumexp(a @ c.T / temperature, dim=-1) - pos).sum()


def infonce_indexed(
    anchor: torch.Tensor, candidates: torch.Tensor, positive: torch.Tensor, temperature: float
) -> torch.Tensor:
    """:func:`infonce` for the case where anchor i's positive is the candidate row ``positive[i]`` (every RLMRec
    use: SGL/SimGCL views, Con): sum_i [ log sum_c exp(cos(a_i, c)/t) - cos(a_i, c_{positive[i]})/t ]."""
    a = torch.nn.functional.normalize(anchor, dim=-1) / temperature
    c = torch.nn.functional.normalize(candidates, dim=-1)
    return _IndexedInfoNCE.apply(a, c, positive)


BLOCK_ELEMENTS = 1 << 21
"""Logits per anchor block on the CPU (8 MB of fp32): a block's exp, sum and both gradient products then read it
from cache instead of memory (measured 1.7x faster than the whole (B, N) matrix at B = 4096, N = 11,000)."""


ACCELERATOR_BLOCK_ELEMENTS = 1 << 28
"""Logits per block off the CPU (1 GiB of fp32): the whole matrix while it fits (one block, fewest launches; every
Amazon-book-sized case), and beyond that blocks, so memory grows like the rows instead of rows x columns (Gen's
M x M at 10^7 edges would be 200 GB as one block)."""


def row_block(n_rows: int, n_cols: int, device: torch.device) -> int:
    """Rows per block of an (n_rows, n_cols) logit matrix walked block by block: BLOCK_ELEMENTS' worth on the CPU,
    ACCELERATOR_BLOCK_ELEMENTS' worth elsewhere, at least 32 rows and at most n_rows."""
    budget = BLOCK_ELEMENTS if device.type == "cpu" else ACCELERATOR_BLOCK_ELEMENTS
    return max(1, min(n_rows, max(32, budget // max(n_cols, 1))))


class _IndexedInfoNCE(torch.autograd.Function):
    """sum_i [logsumexp_j S_ij - S_i,pos_i] with S = a c^T. At d = 32 the (B, N) logit matrix is the whole cost, so
    forward walks it in blocks of anchors and, for each block, turns exp(S - rowmax) into softmax - onehot in place
    and takes the gradients' contributions right away (dL/da = P c, dL/dc = P^T a); backward only scales them."""

    @staticmethod
    def forward(ctx, a, c, pos):
        n_anchors, n_candidates = a.shape[0], c.shape[0]
        block = row_block(n_anchors, n_candidates, a.device)
        grad_a, grad_c = torch.empty_like(a), torch.zeros_like(c)
        logits = torch.empty((min(block, n_anchors), n_candidates), dtype=a.dtype, device=a.device)
        loss = a.new_zeros(())
        for start in range(0, n_anchors, block):
            a_block, pos_block = a[start : start + block], pos[start : start + block]
            s = torch.mm(a_block, c.T, out=logits[: a_block.shape[0]])
            picked = s.gather(1, pos_block[:, None])
            rowmax = s.amax(1, keepdim=True)
            total = s.sub_(rowmax).exp_().sum(1, keepdim=True)
            loss += (rowmax + total.log() - picked).sum()
            p = s.div_(total)
            p[torch.arange(p.shape[0], device=p.device), pos_block] -= 1.0
            torch.mm(p, c, out=grad_a[start : start + block])
            grad_c.addmm_(p.T, a_block)
        ctx.grads = grad_a, grad_c
        return loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        grad_a, grad_c = ctx.grads
        return grad_a * grad, grad_c * grad, None
