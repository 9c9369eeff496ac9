"""DCCF: disentangled intents plus adaptive graph- and intent-aware augmentation (docs/methods/rlmrec.md §4.5, §6;
code: encoder/models/general_cf/dccf.py of HKUDS/RLMRec).

Per layer l with input E^l: gnn = G E^l (G = D^-1/2 A D^-1/2, no self-loops); int = softmax(E^l W) W^T per side
(users W_u, items W_i, both 32 x K); two adaptive graphs on the edges of A with alpha = (cos(x_h, x_t) + 1) / 2
for x = gnn (graph view) and x = int (intent view), row-normalised by their row sums; gaa / iaa = those graphs
times E^l; E^{l+1} = gnn + int + gaa + iaa + E^l. Final e = sum_{l=0..L} E^l.

The module also holds the kernels shared with AutoCF (autocf.py imports them): a chunked row-wise logsumexp for
the InfoNCE denominators and the normalised user-item pattern; the sparse products are in rlmrec/sparse.py.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from llmrec_cli.rlmrec.backbones.base import Backbone, Batch, bpr_loss
from llmrec_cli.rlmrec.graph import InteractionGraph
from llmrec_cli.rlmrec.sparse import EdgePattern, edge_dot, spmm


# ------------------------------------------------------------------------------------------------ kernels
class _RowLogSumExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, chunk):
        lse, probs = [], []
        for i in range(0, a.shape[0], chunk):
            s = a[i : i + chunk] @ b.T
            top = s.amax(1, keepdim=True)
            z = s.sub_(top).exp_().sum(1, keepdim=True)
            probs.append(s.div_(z))  # softmax rows: d lse_i / d s_ij
            lse.append((top + z.log()).squeeze(1))
        ctx.chunk, ctx.probs = chunk, probs
        ctx.save_for_backward(a, b)
        return torch.cat(lse) if lse else a.new_zeros(0)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        probs, ctx.probs = ctx.probs, None  # scaled in place below, so a second backward must not reuse them
        if probs is None:
            raise RuntimeError("row_logsumexp supports a single backward pass")
        ga, gb = torch.empty_like(a), torch.zeros_like(b)
        for p, i in zip(probs, range(0, a.shape[0], ctx.chunk)):
            rows = slice(i, i + ctx.chunk)
            p.mul_(grad[rows, None])
            ga[rows] = p @ b
            gb.addmm_(p.T, a[rows])
        return ga, gb, None


def row_logsumexp(a: torch.Tensor, b: torch.Tensor, chunk_rows: int | None = None) -> torch.Tensor:
    """logsumexp(a @ b.T, dim=1), differentiable in a and b. Rows go in chunks of about 4M scores, each turned into
    its softmax in place and kept for backward (the gradient is softmax-weighted). On the CPU this is ~3x faster
    than torch.logsumexp on the 3000 x 11000 matrices of AutoCF / DCCF: far fewer full passes and fresh 100+ MB
    temporaries; memory is the same m x n floats autograd would keep. On CUDA one chunk covers the usual sizes."""
    if chunk_rows is None:
        chunk_rows = max(1, (1 << (22 if a.device.type == "cpu" else 26)) // max(b.shape[0], 1))
    return _RowLogSumExp.apply(a, b, chunk_rows)


def symmetric_norm_values(pattern: EdgePattern) -> torch.Tensor:
    """Edge values of D^-1/2 A D^-1/2 for the binary adjacency of ``pattern`` (zero degree -> 0;
    docs/methods/rlmrec.md §3.1)."""
    deg = torch.bincount(pattern.rows, minlength=pattern.n).to(torch.float32)
    inv_sqrt = torch.where(deg > 0, deg.clamp_min(1.0).pow(-0.5), torch.zeros_like(deg))
    return inv_sqrt[pattern.rows] * inv_sqrt[pattern.cols]


def graph_pattern(graph: InteractionGraph, device=None) -> EdgePattern:
    """The user-item adjacency A = [[0, R], [R^T, 0]] as an EdgePattern (users 0..I-1, items I..I+J-1)."""
    rows, cols = graph.edge_index()
    return EdgePattern.from_keys(rows * graph.n_nodes + cols, graph.n_nodes).to(device or "cpu")


# ------------------------------------------------------------------------------------------------ DCCF pieces
def adaptive_weights(pattern: EdgePattern, x: torch.Tensor) -> torch.Tensor:
    """Row-normalised adaptive edge weights (docs/methods/rlmrec.md §4.5; code _adaptive_mask):
    alpha_e = (cos(x_h, x_t) + 1) / 2, value_e = alpha_e / sum_{e' in row h} alpha_e' (a zero row sum gives 0)."""
    xn = F.normalize(x, dim=1)
    alpha = (edge_dot(pattern, xn, xn) + 1.0) / 2.0
    row_sum = alpha.new_zeros(pattern.n).index_add_(0, pattern.rows, alpha)
    inv = row_sum.clamp_min(torch.finfo(row_sum.dtype).tiny).reciprocal()
    inv = torch.where(row_sum > 0, inv, torch.zeros_like(row_sum))
    return alpha * inv[pattern.rows]


def infonce_same_set(anchor: torch.Tensor, view: torch.Tensor, temperature: float) -> torch.Tensor:
    """base.infonce(anchor, view, view, t) (docs/methods/rlmrec.md §3.3; SSLRec cal_infonce_loss) with the denominator
    through row_logsumexp and the temperature on the (n x d) anchors rather than the (n x n) logits: these n x n
    matrices (12 per step) are most of DCCF's step time on the CPU."""
    a = F.normalize(anchor, dim=-1) / temperature
    v = F.normalize(view, dim=-1)
    return (row_logsumexp(a, v) - (a * v).sum(-1)).sum()


def intent_embeddings(e: torch.Tensor, intents: torch.Tensor) -> torch.Tensor:
    """softmax(E W, over the K intents) W^T (docs/methods/rlmrec.md §4.5, intent-aware aggregation)."""
    return torch.softmax(e @ intents, dim=1) @ intents.T


class DCCF(Backbone):
    """Hyperparameters: layers, intent_num, cl_weight, cl_temperature, embedding_dim
    (docs/methods/rlmrec.md §6.2)."""

    name = "dccf"

    def __init__(self, graph: InteractionGraph, hp: dict, device: str | torch.device = "cpu"):
        super().__init__(graph, hp, device)
        self.layers = int(hp.get("layers", 2))
        self.intent_num = int(hp.get("intent_num", 128))
        self.cl_weight = float(hp.get("cl_weight", 1e-3))
        self.temperature = float(hp.get("cl_temperature", 0.1))
        self.user_intent = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.dim, self.intent_num)))
        self.item_intent = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.dim, self.intent_num)))
        pattern = graph_pattern(graph, device)
        # buffers (not persistent) so that .to(device) moves the graph with the parameters
        for name in ("rows", "cols", "crow", "perm"):
            self.register_buffer(f"_{name}", getattr(pattern, name), persistent=False)
        self.register_buffer("_norm_values", symmetric_norm_values(pattern), persistent=False)

    def pattern(self) -> EdgePattern:
        """The edge pattern of A on the current device (the edge list behind G and both adaptive graphs)."""
        return EdgePattern(self._rows, self._cols, self._crow, self._perm, self.graph.n_nodes)

    def _forward(self, ego: torch.Tensor):
        """Final representations and the per-layer (gnn, int, gaa, iaa) lists used by the contrastive loss."""
        p = self.pattern()
        embeds = [ego]
        views: dict[str, list[torch.Tensor]] = {"gnn": [], "int": [], "gaa": [], "iaa": []}
        for _ in range(self.layers):
            e = embeds[-1]
            gnn = spmm(p, self._norm_values, e)
            users, items = torch.split(e, [self.n_users, self.n_items], 0)
            intent = torch.cat([intent_embeddings(users, self.user_intent), intent_embeddings(items, self.item_intent)])
            gaa = spmm(p, adaptive_weights(p, gnn), e)
            iaa = spmm(p, adaptive_weights(p, intent), e)
            for key, value in zip(("gnn", "int", "gaa", "iaa"), (gnn, intent, gaa, iaa)):
                views[key].append(value)
            embeds.append(gnn + intent + gaa + iaa + e)
        return torch.stack(embeds).sum(0), views

    def propagate(self, ego: torch.Tensor, training: bool) -> torch.Tensor:
        return self._forward(ego)[0]

    def contrastive_loss(self, batch: Batch, views: dict[str, list[torch.Tensor]]) -> torch.Tensor:
        """Sum over layers of InfoNCE(gnn, v, v) for v in (int, gaa, iaa), on the unique batch users and the unique
        batch positives (candidates: the same node set), every term divided by |U_b| (docs/methods/rlmrec.md §4.5;
        the code drops SSLRec's negative items)."""
        users = torch.unique(batch.users)
        items = torch.unique(batch.pos) + self.n_users
        loss = views["gnn"][0].new_zeros(())
        for layer in range(self.layers):
            for nodes in (users, items):
                anchor = views["gnn"][layer][nodes]
                for key in ("int", "gaa", "iaa"):
                    loss = loss + infonce_same_set(anchor, views[key][layer][nodes], self.temperature)
        return loss / users.numel()

    def loss(self, batch: Batch, ego: torch.Tensor):
        """BPR + cl_weight * L_cl (the trainer adds the L2 term)."""
        final, views = self._forward(ego)
        user_e = final[batch.users]
        pos_e = final[batch.pos + self.n_users]
        neg_e = final[batch.neg + self.n_users]
        parts = {"bpr": bpr_loss(user_e, pos_e, neg_e), "cl": self.cl_weight * self.contrastive_loss(batch, views)}
        return parts, final


BACKBONE = DCCF
