"""AutoCF: masked graph autoencoder with learned seed selection (docs/methods/rlmrec.md §4.6, §6; code:
encoder/models/general_cf/autocf.py and the AutoCFTrainer of HKUDS/RLMRec).

Every ``fix_steps`` training steps the backbone re-samples: seeds = top ``seed_num`` nodes by local-subgraph score
plus Gumbel noise; the edges within ``mask_depth`` hops of the seeds are removed (encoder graph = the remaining
edges, symmetric-normalised); the decoder graph holds random pairs among the masked nodes (plus a keep_rate share of
uniformly drawn nodes), self-loops and the remaining edges. Forward: ``gcn_layers`` spmm layers on the encoder graph,
then ``gt_layers`` graph-transformer layers on the decoder graph; final = sum of all layer outputs incl. the ego.
Evaluation uses A_hat for the encoder and the pattern of A for the decoder.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from llmrec_cli.rlmrec.backbones.base import Backbone, Batch
from llmrec_cli.rlmrec.backbones.dccf import graph_pattern, row_logsumexp, symmetric_norm_values
from llmrec_cli.rlmrec.graph import InteractionGraph
from llmrec_cli.rlmrec.sparse import EdgePattern, edge_dot, spmm


def segment_softmax(logits: torch.Tensor, rows: torch.Tensor, n: int) -> torch.Tensor:
    """Softmax of (nnz, H) edge logits over the edges that share a row (each node's neighbours): max by
    scatter_reduce, exp, sum by index_add_. The max is a constant shift, so it carries no gradient."""
    index = rows.unsqueeze(1).expand_as(logits)
    row_max = logits.new_full((n, logits.shape[1]), float("-inf"))
    row_max = row_max.scatter_reduce(0, index, logits.detach(), reduce="amax", include_self=True)
    exp = (logits - row_max[rows]).exp()
    denom = logits.new_zeros((n, logits.shape[1])).index_add_(0, rows, exp)
    return exp / denom[rows]


class GraphTransformerLayer(nn.Module):
    """One AutoCF GT layer (docs/methods/rlmrec.md §4.6): q/k/v d x d (xavier), H heads, logits q_r . k_c per head
    clamped to [-10, 10] (no 1/sqrt(d) scaling, as in the code), softmax over each row's neighbours,
    output_r = sum_c att * v_c."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"embedding_dim {dim} is not divisible by head_num {heads}")
        self.heads = heads
        self.q = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, dim)))
        self.k = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, dim)))
        self.v = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, dim)))

    def forward(self, pattern: EdgePattern, x: torch.Tensor) -> torch.Tensor:
        # (x W)[rows] == x[rows] W: project the n nodes once instead of the nnz edge copies
        q, k, v = (torch.chunk(x @ w, self.heads, dim=1) for w in (self.q, self.k, self.v))
        logits = torch.stack([edge_dot(pattern, q[h], k[h]) for h in range(self.heads)], dim=1)
        att = segment_softmax(logits.clamp(-10.0, 10.0), pattern.rows, pattern.n)
        return torch.cat([spmm(pattern, att[:, h].contiguous(), v[h]) for h in range(self.heads)], dim=1)


def local_subgraph_scores(pattern: EdgePattern, degree: torch.Tensor, ego: torch.Tensor) -> torch.Tensor:
    """<norm(sub), norm(E)> per node, the logit of the code's score sigmoid(.), with sub the mean of the 1- and 2-hop
    neighbourhood sums over the all-ones adjacency B (docs/methods/rlmrec.md §4.6 step 1, code LocalGraph; its
    "- E" corrections are kept verbatim)."""
    ones = ego.new_ones(pattern.nnz)
    order = degree.unsqueeze(1)
    first = spmm(pattern, ones, ego) - ego
    second = (spmm(pattern, ones, first) - first) - order * ego
    second_num = (spmm(pattern, ones, order) - order) - order
    sub = (first + second) / (order + second_num + 1e-8)
    return (F.normalize(sub, p=2, dim=1) * F.normalize(ego, p=2, dim=1)).sum(-1)


def mask_subgraphs(pattern: EdgePattern, seeds: torch.Tensor, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Remove every edge touching the seeds, then every remaining edge touching the nodes reached so far, ``depth``
    rounds (docs/methods/rlmrec.md §4.6 step 2, code RandomMaskSubgraphs without its per-seed loop). Returns the
    boolean keep-mask over the edges and the boolean mask of the masked nodes (seeds and the nodes of removed edges
    of all but the last round)."""
    frontier = torch.zeros(pattern.n, dtype=torch.bool, device=pattern.rows.device)
    frontier[seeds] = True
    masked = frontier.clone()
    keep = torch.ones(pattern.nnz, dtype=torch.bool, device=pattern.rows.device)
    for i in range(depth):
        touched = keep & (frontier[pattern.rows] | frontier[pattern.cols])
        if i != depth - 1:
            frontier = torch.zeros_like(frontier)
            frontier[pattern.rows[touched]] = True
            frontier[pattern.cols[touched]] = True
            masked |= frontier
        keep &= ~touched
    return keep, masked


class AutoCF(Backbone):
    """Hyperparameters: gcn_layers, gt_layers, head_num, seed_num, mask_depth, fix_steps, keep_rate, ssl_reg,
    embedding_dim (docs/methods/rlmrec.md §6.2); batch_size (if given) fixes the epoch length for the re-sampling
    schedule.

    ``generator`` (optional torch.Generator) drives every random draw; ``last_seeds`` holds the latest seeds.
    """

    name = "autocf"

    def __init__(self, graph: InteractionGraph, hp: dict, device: str | torch.device = "cpu"):
        super().__init__(graph, hp, device)
        self.gcn_layers = int(hp.get("gcn_layers", 2))
        self.heads = int(hp.get("head_num", 4))
        self.seed_num = int(hp.get("seed_num", 100))
        self.mask_depth = int(hp.get("mask_depth", 2))
        self.fix_steps = int(hp.get("fix_steps", 10))
        self.keep_rate = float(hp.get("keep_rate", 0.2))
        self.ssl_reg = float(hp.get("ssl_reg", 5.0))
        self.gt = nn.ModuleList(GraphTransformerLayer(self.dim, self.heads) for _ in range(int(hp.get("gt_layers", 1))))
        pattern = graph_pattern(graph, device)
        for name in ("rows", "cols", "crow", "perm"):
            self.register_buffer(f"_{name}", getattr(pattern, name), persistent=False)
        self.register_buffer("_norm_values", symmetric_norm_values(pattern), persistent=False)
        self.register_buffer("_degree", torch.bincount(pattern.rows, minlength=pattern.n).float(), persistent=False)
        # The official trainer re-samples when the batch index *within the epoch* is a multiple of fix_steps; with
        # the epoch length known the position is step % steps_per_epoch, so a resumed run (checkpoints are taken at
        # epoch boundaries) re-samples exactly where an uninterrupted one does.
        batch_size = hp.get("batch_size")
        self.steps_per_epoch = math.ceil(graph.n_edges / int(batch_size)) if batch_size else 0
        self.generator: torch.Generator | None = None
        self.step = 0
        self.last_seeds: torch.Tensor | None = None
        self._encoder: tuple[EdgePattern, torch.Tensor] | None = None
        self._decoder: EdgePattern | None = None

    # -------------------------------------------------------------------------------------------- graphs
    def pattern(self) -> EdgePattern:
        """The pattern of A (no self-loops) on the current device."""
        return EdgePattern(self._rows, self._cols, self._crow, self._perm, self.graph.n_nodes)

    def _rand(self, size: int, device) -> torch.Tensor:
        g = self.generator
        return torch.rand(size, generator=g, device=g.device if g is not None else device).to(device)

    def _randint(self, high: int, size: int, device) -> torch.Tensor:
        g = self.generator
        return torch.randint(high, (size,), generator=g, device=g.device if g is not None else device).to(device)

    def noisy_seed_scores(self, ego: torch.Tensor) -> torch.Tensor:
        """log(score) + Gumbel noise for every node (docs/methods/rlmrec.md §4.6; differentiable in ``ego`` for the
        infomax term). The uniform draw is clamped away from 0, where -log(-log(u)) would be -inf."""
        score = local_subgraph_scores(self.pattern(), self._degree, ego)
        u = self._rand(score.numel(), ego.device).clamp_(min=torch.finfo(torch.float32).tiny)
        return F.logsigmoid(score) - torch.log(-torch.log(u))

    def resample(self, ego: torch.Tensor) -> torch.Tensor:
        """Draw new seeds, encoder and decoder graphs from ``ego``; returns the noisy scores
        (docs/methods/rlmrec.md §4.6)."""
        scores = self.noisy_seed_scores(ego)
        seeds = torch.topk(scores.detach(), min(self.seed_num, scores.numel())).indices
        full = self.pattern()
        n = full.n
        keep, masked = mask_subgraphs(full, seeds, self.mask_depth)
        masked[self._randint(n, int(n * self.keep_rate), ego.device)] = True
        masked_nodes = masked.nonzero().squeeze(1)
        encoder = EdgePattern.from_sorted(full.rows[keep], full.cols[keep], n)
        enc_values = symmetric_norm_values(encoder)
        a = masked_nodes[self._randint(masked_nodes.numel(), full.nnz, ego.device)]
        b = masked_nodes[self._randint(masked_nodes.numel(), full.nnz, ego.device)]
        loops = torch.arange(n, device=ego.device)
        keys = torch.cat([a * n + b, b * n + a, loops * (n + 1), encoder.rows * n + encoder.cols])
        self._encoder, self._decoder = (encoder, enc_values), EdgePattern.from_keys(keys, n)
        self.last_seeds = seeds
        return scores

    def sampled_graphs(self) -> tuple[EdgePattern, torch.Tensor, EdgePattern] | None:
        """(encoder pattern, its normalised values, decoder pattern) of the latest re-sampling, or None."""
        if self._encoder is None:
            return None
        return self._encoder[0], self._encoder[1], self._decoder

    # -------------------------------------------------------------------------------------------- forward
    def _forward(self, ego: torch.Tensor, encoder: EdgePattern, enc_values: torch.Tensor, decoder: EdgePattern):
        layers = [ego]
        for _ in range(self.gcn_layers):
            layers.append(spmm(encoder, enc_values, layers[-1]))
        for gt in self.gt:
            layers.append(gt(decoder, layers[-1]))
        return torch.stack(layers).sum(0)

    def propagate(self, ego: torch.Tensor, training: bool) -> torch.Tensor:
        if not training:
            full = self.pattern()
            return self._forward(ego, full, self._norm_values, full)
        if self._stale(ego.device):
            with torch.no_grad():
                self.resample(self.ego())
        return self._forward(ego, self._encoder[0], self._encoder[1], self._decoder)

    # -------------------------------------------------------------------------------------------- loss
    def _stale(self, device) -> bool:
        """No sampled graphs yet, or they live on another device than the parameters (after .to())."""
        return self._encoder is None or self._encoder[0].rows.device != torch.device(device)

    def _due(self, device) -> bool:
        position = self.step % self.steps_per_epoch if self.steps_per_epoch else self.step
        return position % self.fix_steps == 0 or self._stale(device)

    def contrastive_loss(self, batch: Batch, final: torch.Tensor) -> torch.Tensor:
        """ssl_reg * [C(unique batch users, users) + C(unique batch positives, items)] + C(batch users, items) with
        C(n, X) = mean_n log sum_x exp(e_n . e_x) (docs/methods/rlmrec.md §4.6; code contrast, duplicates kept in the
        last term)."""
        users, counts = torch.unique(batch.users, return_counts=True)
        items = torch.unique(batch.pos)
        all_users, all_items = final[: self.n_users], final[self.n_users :]
        u = final[users]
        c_users = row_logsumexp(u, all_users).mean()
        c_items = row_logsumexp(all_items[items], all_items).mean()
        # mean over the B batch rows == count-weighted mean over the unique users (same rows repeated)
        c_batch = (row_logsumexp(u, all_items) * counts).sum() / batch.users.numel()
        return self.ssl_reg * (c_users + c_items) + c_batch

    def loss(self, batch: Batch, ego: torch.Tensor):
        """rec = -mean(e_u . e_pos) (negatives unused) + cl, plus infomax = -mean(noisy scores) on re-sampling steps.
        Seeds are scored on the unmasked ID table (code: sample_subgraphs uses get_ego_embeds even in AutoCF_gene)."""
        parts = {}
        if self._due(ego.device):
            parts["infomax"] = -self.resample(self.ego()).mean()
        self.step += 1
        final = self._forward(ego, self._encoder[0], self._encoder[1], self._decoder)
        user_e = final[batch.users]
        pos_e = final[batch.pos + self.n_users]
        parts = {"rec": -(user_e * pos_e).sum(-1).mean(), "cl": self.contrastive_loss(batch, final), **parts}
        return parts, final


BACKBONE = AutoCF
