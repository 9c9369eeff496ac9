"""AutoCF backbone (docs/methods/rlmrec.md §4.6): re-sampling schedule, masking, segment softmax and the GT layer."""

import math

import torch
import torch.nn.functional as F

from llmrec_cli.rlmrec.backbones.autocf import (
    AutoCF,
    GraphTransformerLayer,
    local_subgraph_scores,
    mask_subgraphs,
    segment_softmax,
)
from llmrec_cli.rlmrec.backbones.base import Batch
from llmrec_cli.rlmrec.graph import InteractionGraph
from llmrec_cli.rlmrec.sparse import EdgePattern

HP = {
    "gcn_layers": 2,
    "gt_layers": 1,
    "head_num": 4,
    "seed_num": 2,
    "mask_depth": 2,
    "fix_steps": 3,
    "keep_rate": 0.2,
    "ssl_reg": 0.5,
    "embedding_dim": 32,
}


def tiny_graph(n_users=12, n_items=15, n_edges=30, seed=0) -> InteractionGraph:
    g = torch.Generator().manual_seed(seed)
    users = torch.cat([torch.arange(n_users), torch.randint(0, n_users, (n_edges,), generator=g)])
    items = torch.cat([torch.arange(n_users) % n_items, torch.randint(0, n_items, (n_edges,), generator=g)])
    return InteractionGraph.from_arrays(users.numpy(), items.numpy(), n_users, n_items)


def tiny_batch() -> Batch:
    return Batch(torch.tensor([0, 3, 3, 7, 11]), torch.tensor([0, 3, 9, 7, 14]), torch.tensor([2, 5, 6, 0, 1]))


def model_with(seed=0, generator_seed=0, **hp) -> AutoCF:
    torch.manual_seed(seed)
    model = AutoCF(tiny_graph(), {**HP, **hp})
    model.generator = torch.Generator().manual_seed(generator_seed)
    return model


def dense_pattern(pattern: EdgePattern) -> torch.Tensor:
    m = torch.zeros(pattern.n, pattern.n, dtype=torch.bool)
    m[pattern.rows, pattern.cols] = True
    return m


def test_loss_shapes_finite_and_gradients_reach_all_parameters():
    model = model_with()
    parts, final = model.loss(tiny_batch(), model.ego())
    assert set(parts) == {"rec", "cl", "infomax"}  # step 0 re-samples
    assert final.shape == (model.graph.n_nodes, 32)
    assert all(torch.isfinite(v) for v in parts.values())
    sum(parts.values()).backward()
    gt = model.gt[0]
    for name, p in [("user_emb", model.user_emb), ("item_emb", model.item_emb), ("q", gt.q), ("k", gt.k), ("v", gt.v)]:
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_final_embeddings_are_deterministic_and_use_the_full_graph():
    model = model_with()
    model.loss(tiny_batch(), model.ego())  # a sampled graph exists, evaluation must ignore it
    u1, i1 = model.final_embeddings()
    u2, i2 = model.final_embeddings()
    assert u1.shape == (12, 32) and i1.shape == (15, 32)
    assert torch.equal(u1, u2) and torch.equal(i1, i2)
    full = model.pattern()
    with torch.no_grad():
        want = model._forward(model.ego(), full, model._norm_values, full)
    torch.testing.assert_close(torch.cat([u1, i1]), want)


def test_loss_terms_follow_the_official_formulas():
    model = model_with()
    batch = tiny_batch()
    parts, final = model.loss(batch, model.ego())
    users, items = final[:12], final[12:]

    def contrast(nodes, embeds, embeds2=None):  # official AutoCF.contrast
        if embeds2 is not None:
            return torch.log(torch.exp(embeds[nodes] @ embeds2.T).sum(-1)).mean()
        return torch.log(torch.exp(embeds[torch.unique(nodes)] @ embeds.T).sum(-1)).mean()

    want_cl = (contrast(batch.users, users) + contrast(batch.pos, items)) * HP["ssl_reg"]
    want_cl = want_cl + contrast(batch.users, users, items)
    torch.testing.assert_close(parts["cl"], want_cl)
    torch.testing.assert_close(parts["rec"], -(users[batch.users] * items[batch.pos]).sum(-1).mean())


def test_resampling_happens_every_fix_steps():
    model = model_with(fix_steps=3)
    resampled, decoders = [], []
    for _ in range(8):
        parts, _ = model.loss(tiny_batch(), model.ego())
        resampled.append("infomax" in parts)
        decoders.append(model.sampled_graphs()[2])
    assert [i for i, r in enumerate(resampled) if r] == [0, 3, 6]
    assert all((decoders[i] is decoders[i - 1]) != resampled[i] for i in range(1, 8))


def test_resampling_restarts_with_each_epoch_when_batch_size_is_known():
    graph = tiny_graph()
    batch_size = math.ceil(graph.n_edges / 4)  # 4 steps per epoch, as the trainer's batching gives
    model = model_with(fix_steps=3, batch_size=batch_size)
    assert model.steps_per_epoch == 4
    resampled = ["infomax" in model.loss(tiny_batch(), model.ego())[0] for _ in range(10)]
    assert [i for i, r in enumerate(resampled) if r] == [0, 3, 4, 7, 8]  # batch index within the epoch: 0, 3


def official_mask(rows, cols, seeds, depth):
    """RandomMaskSubgraphs.forward of the official code (per-seed loop), without the random parts."""
    mask_nodes, nxt = [seeds], []
    for i in range(depth):
        cur = seeds if i == 0 else nxt
        nxt = []
        for seed in cur:
            idct = (rows == seed) | (cols == seed)
            if i != depth - 1:
                nxt += [rows[idct], cols[idct]]
            rows, cols = rows[~idct], cols[~idct]
        if len(nxt) > 0:
            nxt = torch.unique(torch.cat(nxt))
            mask_nodes.append(nxt)
    return rows, cols, torch.unique(torch.cat(mask_nodes))


def test_mask_subgraphs_matches_the_official_loop():
    model = model_with()
    full = model.pattern()
    for depth, seeds in [(1, [0, 5]), (2, [0, 5]), (2, [3, 20, 26]), (3, [13])]:
        seeds = torch.tensor(seeds)
        keep, masked = mask_subgraphs(full, seeds, depth)
        rows, cols, nodes = official_mask(full.rows, full.cols, seeds, depth)
        assert torch.equal(full.rows[keep], rows) and torch.equal(full.cols[keep], cols)
        assert torch.equal(masked.nonzero().squeeze(1), nodes)


def test_masked_encoder_has_no_edge_near_a_seed_and_decoder_is_well_formed():
    model = model_with()
    model.loss(tiny_batch(), model.ego())
    encoder, enc_values, decoder = model.sampled_graphs()
    seeds = model.last_seeds
    assert seeds.numel() == HP["seed_num"]
    touched = torch.isin(encoder.rows, seeds) | torch.isin(encoder.cols, seeds)
    assert not touched.any()
    full = model.pattern()
    neighbours = torch.unique(full.cols[torch.isin(full.rows, seeds)])  # mask_depth 2: their edges go as well
    assert not (torch.isin(encoder.rows, neighbours) | torch.isin(encoder.cols, neighbours)).any()
    deg = torch.bincount(encoder.rows, minlength=encoder.n).float()
    torch.testing.assert_close(enc_values, (deg[encoder.rows] * deg[encoder.cols]).rsqrt())
    dec = dense_pattern(decoder)
    assert dec.diagonal().all() and torch.equal(dec, dec.T)
    assert dec[encoder.rows, encoder.cols].all()


def test_resampling_is_reproducible_with_a_generator():
    a, b, c = model_with(generator_seed=5), model_with(generator_seed=5), model_with(generator_seed=6)
    for m in (a, b, c):
        m.loss(tiny_batch(), m.ego())
    assert torch.equal(a.last_seeds, b.last_seeds)
    assert torch.equal(a.sampled_graphs()[2].rows, b.sampled_graphs()[2].rows)
    assert torch.equal(a.sampled_graphs()[2].cols, b.sampled_graphs()[2].cols)
    assert not torch.equal(dense_pattern(a.sampled_graphs()[2]), dense_pattern(c.sampled_graphs()[2]))


def test_segment_softmax_matches_dense_reference():
    torch.manual_seed(1)
    n = 7
    keys = torch.unique(torch.randint(0, n * n, (25,)))
    keys = torch.unique(torch.cat([keys, (keys % n) * n + keys // n]))  # symmetric
    pattern = EdgePattern.from_keys(keys, n)
    logits = torch.randn(pattern.nnz, 3) * 5
    got = segment_softmax(logits, pattern.rows, n)
    for h in range(3):
        dense = torch.full((n, n), float("-inf"))
        dense[pattern.rows, pattern.cols] = logits[:, h]
        want = torch.softmax(dense, dim=1).nan_to_num(0.0)  # rows without neighbours: nan -> 0
        torch.testing.assert_close(got[:, h], want[pattern.rows, pattern.cols])


def test_graph_transformer_layer_matches_dense_attention():
    torch.manual_seed(2)
    model = model_with()
    pattern = model.pattern()
    layer = GraphTransformerLayer(8, 2)
    x = torch.randn(pattern.n, 8) * 3
    got = layer(pattern, x)
    mask = dense_pattern(pattern)
    outs = []
    for h in range(2):
        cols = slice(4 * h, 4 * h + 4)
        q, k, v = ((x @ w)[:, cols] for w in (layer.q, layer.k, layer.v))
        logits = (q @ k.T).clamp(-10, 10).masked_fill(~mask, float("-inf"))
        outs.append(torch.softmax(logits, 1).nan_to_num(0.0) @ v)
    torch.testing.assert_close(got, torch.cat(outs, 1), rtol=1e-4, atol=1e-5)


def test_local_subgraph_scores_match_dense_formula():
    model = model_with()
    ego = model.ego().detach()
    b = dense_pattern(model.pattern()).float()
    deg = b.sum(1, keepdim=True)
    first = b @ ego - ego
    second = (b @ first - first) - deg * ego
    second_num = (b @ deg - deg) - deg
    sub = (first + second) / (deg + second_num + 1e-8)
    want = (F.normalize(sub, dim=1) * F.normalize(ego, dim=1)).sum(-1)
    torch.testing.assert_close(local_subgraph_scores(model.pattern(), model._degree, ego), want, rtol=1e-4, atol=1e-5)
