"""RLMRec-Con and RLMRec-Gen (docs/methods/rlmrec.md §5.2, §5.3), checked against hand computations on 3-4 node
examples; Gen's loss (computed through the last layer, at the hidden width) also against the direct M x d_s lift
(gen_reference.py).

The MLPs are set to identity (2 -> 2 -> 2, zero biases) and every vector lies in the positive quadrant, so the
LeakyReLU is the identity too and the projections equal their inputs. Vectors are given as (angle, length): the cosine
of two of them is cos(angle difference), whatever the lengths.
"""

import math

import pytest
import torch
from gen_reference import direct_gen_loss
from torch import nn

from llmrec_cli.rlmrec.alignments.base import Semantic
from llmrec_cli.rlmrec.alignments.con import ConAlignment
from llmrec_cli.rlmrec.alignments.gen import GenAlignment
from llmrec_cli.rlmrec.backbones.base import Batch, infonce_indexed


def vecs(*pairs):
    return torch.tensor([[r * math.cos(a), r * math.sin(a)] for a, r in pairs], dtype=torch.float32)


def set_identity(net: nn.Sequential):
    with torch.no_grad():
        for layer in (net[0], net[2]):
            layer.weight.copy_(torch.eye(2))
            layer.bias.zero_()


def nce_term(anchor_angle, positive_angle, candidate_angles, t):
    """-cos(a, p)/t + log sum_c exp(cos(a, c)/t)."""
    return -math.cos(anchor_angle - positive_angle) / t + math.log(
        sum(math.exp(math.cos(anchor_angle - c) / t) for c in candidate_angles)
    )


# ---------------------------------------------------------------------------------------------------------- Con
F_ANGLES = [0.1, 0.9, 0.4, 1.2]  # final representations of u0, u1, i0, i1
SU_ANGLES, SI_ANGLES = [0.2, 1.0], [0.7, 1.5]
FINAL = vecs((0.1, 2.0), (0.9, 1.0), (0.4, 3.0), (1.2, 0.5))
SEM_USERS, SEM_ITEMS = vecs((0.2, 1.5), (1.0, 0.7)), vecs((0.7, 2.0), (1.5, 1.0))
BATCH = Batch(torch.tensor([0, 1, 0]), torch.tensor([0, 1, 1]), torch.tensor([1, 0, 0]))
CON_HP = {"kd_weight": 0.1, "kd_temperature": 0.5}


def con_terms(t=0.5):
    anchors = sum(nce_term(F_ANGLES[u], SU_ANGLES[u], SU_ANGLES, t) for u in [0, 1, 0])
    pos_cands = [SI_ANGLES[i] for i in [0, 1, 1]]  # the B projected positives, duplicates kept
    positives = sum(nce_term(F_ANGLES[2 + i], SI_ANGLES[i], pos_cands, t) for i in [0, 1, 1])
    neg_cands = [SI_ANGLES[i] for i in [1, 0, 0]]
    negatives = sum(nce_term(F_ANGLES[2 + i], SI_ANGLES[i], neg_cands, t) for i in [1, 0, 0])
    return anchors, positives, negatives


def test_con_loss_by_hand():
    con = ConAlignment(2, 2, CON_HP)
    set_identity(con.down)
    anchors, positives, negatives = con_terms()
    expected = 0.1 * (anchors + positives + negatives) / 3
    got = con.loss(FINAL, BATCH, SEM_USERS, SEM_ITEMS)
    assert math.isclose(float(got.detach()), expected, rel_tol=1e-5)


def test_con_without_negatives_by_hand():
    con = ConAlignment(2, 2, CON_HP, use_negatives=False)
    set_identity(con.down)
    anchors, positives, _ = con_terms()
    assert math.isclose(
        float(con.loss(FINAL, BATCH, SEM_USERS, SEM_ITEMS).detach()), 0.1 * (anchors + positives) / 3, rel_tol=1e-5
    )
    assert ConAlignment(2, 2, {**CON_HP, "use_negatives": False}).use_negatives is False


class CountingRows(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner, self.rows = inner, []

    def forward(self, x):
        self.rows.append(x.shape[0])
        return self.inner(x)


def test_con_projects_only_the_rows_it_uses():
    torch.manual_seed(0)
    sem_users, sem_items = torch.randn(6, 16), torch.randn(10, 16)
    con = ConAlignment(16, 4, CON_HP)
    con.down = CountingRows(con.down)
    batch = Batch(torch.tensor([0, 5, 5, 2]), torch.tensor([1, 1, 3, 7]), torch.tensor([2, 9, 9, 1]))
    final = torch.randn(16, 4, requires_grad=True)
    loss = con.loss(final, batch, sem_users, sem_items)
    assert con.down.rows == [6, 5]  # all users, then the distinct items {1, 2, 3, 7, 9}
    loss.backward()
    assert final.grad.abs().sum() > 0 and con.down.inner[0].weight.grad.abs().sum() > 0


def test_con_mlp_shapes_and_init():
    con = ConAlignment(1536, 32, CON_HP)
    assert con.down[0].weight.shape == (784, 1536) and con.down[2].weight.shape == (32, 784)
    assert con.down[1].negative_slope == 0.01
    gccf = ConAlignment(1536, 96, CON_HP)
    assert gccf.down[0].out_features == 816
    bound = math.sqrt(6 / (1536 + 784))  # xavier_uniform
    assert float(con.down[0].weight.detach().abs().max()) <= bound


# ---------------------------------------------------------------------------------------------------------- Gen
GEN_HP = {"mask_ratio": 0.35, "recon_weight": 0.5, "re_temperature": 0.2}


def test_gen_mask_count_rows_and_gradient():
    gen = GenAlignment(4, 4, 8, GEN_HP)
    assert gen.mask_token.shape == (1, 4) and float(gen.mask_token.detach().abs().sum()) == 0.0  # zero-initialised
    with torch.no_grad():
        gen.mask_token.fill_(7.0)
    ego = torch.randn(10, 4, requires_grad=True)
    masked, idx = gen.mask(ego, torch.Generator().manual_seed(0))
    assert idx.numel() == 3 == int(10 * 0.35) and idx.unique().numel() == 3
    keep = torch.ones(10, dtype=torch.bool)
    keep[idx] = False
    assert torch.equal(masked[idx], torch.full((3, 4), 7.0))
    assert torch.equal(masked[keep], ego.detach()[keep])
    masked.sum().backward()
    assert torch.equal(gen.mask_token.grad, torch.full((1, 4), 3.0))
    assert float(ego.grad[idx].abs().sum()) == 0.0 and torch.equal(ego.grad[keep], torch.ones(7, 4))


def test_gen_mask_at_least_one_and_reproducible():
    gen = GenAlignment(4, 4, 8, {**GEN_HP, "mask_ratio": 0.01})
    _, idx = gen.mask(torch.randn(10, 4), torch.Generator().manual_seed(1))
    assert idx.numel() == 1
    gen = GenAlignment(4, 4, 8, {**GEN_HP, "mask_ratio": 0.5})
    _, a = gen.mask(torch.randn(20, 4), torch.Generator().manual_seed(3))
    _, b = gen.mask(torch.randn(20, 4), torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.numel() == 10


def gen_expected(final_angles, sem_angles, masked, t, weight):
    total = 0.0
    for i in masked:
        mole = math.exp(math.cos(final_angles[i] - sem_angles[i]) / t)
        deno = sum(math.exp(math.cos(final_angles[i] - sem_angles[j]) / t) for j in masked)
        total += math.log(mole / (deno + 1e-8) + 1e-8)
    return -weight * total / len(masked)


def test_gen_loss_by_hand():
    # 3 nodes: users 0, 1 and item 0 (node 2); semantic vectors pooled over users and items
    final_angles, sem_angles = [0.3, 1.1, 0.6], [0.5, 0.2, 1.4]
    final = vecs((0.3, 1.0), (1.1, 2.0), (0.6, 0.5)).requires_grad_()
    sem_users, sem_items = vecs((0.5, 1.0), (0.2, 3.0)), vecs((1.4, 2.0))
    gen = GenAlignment(2, 2, 2, GEN_HP)
    set_identity(gen.up)
    got = gen.loss(final, torch.tensor([2, 0]), sem_users, sem_items)  # an item before a user
    assert math.isclose(float(got.detach()), gen_expected(final_angles, sem_angles, [2, 0], 0.2, 0.5), rel_tol=1e-5)
    got_all = gen.loss(final, torch.tensor([0, 1, 2]), sem_users, sem_items)
    assert math.isclose(
        float(got_all.detach()), gen_expected(final_angles, sem_angles, [0, 1, 2], 0.2, 0.5), rel_tol=1e-5
    )
    got_all.backward()
    assert final.grad.abs().sum() > 0 and gen.up[0].weight.grad.abs().sum() > 0


def _gen_case(d: int, d_s: int, m: int, dtype: torch.dtype, seed: int = 0):
    """A Gen module and inputs: m of 2m + 7 nodes masked (users and items mixed), every input requiring a gradient."""
    torch.manual_seed(seed)
    gen = GenAlignment(d, d, d_s, {**GEN_HP, "recon_weight": 0.1, "re_temperature": 0.5}).to(dtype)
    with torch.no_grad():
        gen.up[2].bias.uniform_(-0.5, 0.5)  # larger than the default init, so the norm's bias terms count
    n_users, n_items = m + 3, m + 4
    inputs = [
        torch.randn(n, k, dtype=dtype, requires_grad=True)
        for n, k in ((n_users + n_items, d), (n_users, d_s), (n_items, d_s))
    ]
    idx = torch.randperm(n_users + n_items)[:m]
    return gen, inputs, idx


def _loss_and_grads(loss_fn, gen, inputs, idx):
    leaves = [*inputs, *gen.up.parameters()]
    final, sem_users, sem_items = inputs
    loss = loss_fn(final, idx, sem_users, sem_items)
    return loss.detach(), torch.autograd.grad(loss, leaves)


@pytest.mark.parametrize("dtype, rtol, atol", [(torch.float64, 1e-10, 1e-13), (torch.float32, 2e-5, 1e-7)])
@pytest.mark.parametrize("d, d_s, m", [(4, 12, 9), (32, 1536, 300)])
def test_gen_loss_equals_the_direct_lift(dtype, rtol, atol, d, d_s, m):
    gen, inputs, idx = _gen_case(d, d_s, m, dtype)
    got_loss, got_grads = _loss_and_grads(gen.loss, gen, inputs, idx)
    want_loss, want_grads = _loss_and_grads(lambda *a: direct_gen_loss(gen, *a), gen, inputs, idx)
    assert got_loss.dtype == dtype
    torch.testing.assert_close(got_loss, want_loss, rtol=rtol, atol=0.0)
    for got, want in zip(got_grads, want_grads):
        scale = float(want.abs().max())
        torch.testing.assert_close(got, want, rtol=rtol, atol=atol + rtol * scale)


def test_gen_loss_in_row_blocks_equals_the_direct_lift(monkeypatch):
    from llmrec_cli.rlmrec.backbones import base

    gen, inputs, idx = _gen_case(6, 20, 75, torch.float64)
    monkeypatch.setattr(base, "BLOCK_ELEMENTS", 75 * 32)  # blocks of 32, 32 and 11 masked rows
    got_loss, got_grads = _loss_and_grads(gen.loss, gen, inputs, idx)
    want_loss, want_grads = _loss_and_grads(lambda *a: direct_gen_loss(gen, *a), gen, inputs, idx)
    torch.testing.assert_close(got_loss, want_loss, rtol=1e-10, atol=0.0)
    for got, want in zip(got_grads, want_grads):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-13 * float(want.abs().max()))


def test_gen_trainer_path_reads_the_pool_made_once():
    gen, (final, sem_users, sem_items), idx = _gen_case(4, 12, 9, torch.float64)
    sem = Semantic(sem_users, sem_items)
    assert sem.unit_pool is sem.unit_pool
    torch.testing.assert_close(
        sem.unit_pool.norm(dim=1), torch.ones(len(sem_users) + len(sem_items), dtype=torch.float64)
    )
    got = gen.alignment_loss(final, None, idx, sem)
    torch.testing.assert_close(got, direct_gen_loss(gen, final, idx, sem_users, sem_items), rtol=1e-12, atol=0.0)


def test_gen_zero_lift_is_clamped_like_normalize():
    gen, (final, sem_users, sem_items), idx = _gen_case(4, 12, 9, torch.float64)
    with torch.no_grad():
        gen.up[2].weight.zero_()
        gen.up[2].bias.zero_()  # every lift is 0: cosines 0, as F.normalize's clamped norm gives
    want = direct_gen_loss(gen, final, idx, sem_users, sem_items)
    torch.testing.assert_close(gen.loss(final, idx, sem_users, sem_items), want, rtol=1e-12, atol=0.0)
    assert float(want.detach()) == pytest.approx(-0.1 * math.log(1 / (9 + 1e-8) + 1e-8))


def test_gen_keeps_its_parameters_and_random_draws():
    gen = GenAlignment(32, 32, 1536, GEN_HP)
    assert set(gen.state_dict()) == {"mask_token", "up.0.weight", "up.0.bias", "up.2.weight", "up.2.bias"}
    _, idx = gen.mask(torch.randn(50, 32), torch.Generator().manual_seed(5))
    assert torch.equal(idx, torch.randperm(50, generator=torch.Generator().manual_seed(5))[: int(50 * 0.35)])


def test_gen_mlp_shapes():
    gen = GenAlignment(32, 96, 1536, GEN_HP)
    assert gen.up[0].weight.shape == (816, 96) and gen.up[2].weight.shape == (1536, 816)


# ---------------------------------------------------------------------------------------------------------- InfoNCE
def test_infonce_indexed_by_hand_and_gradient():
    anchors = vecs((0.1, 1.0), (0.8, 2.0), (1.3, 0.5))
    candidates = vecs((0.0, 1.0), (0.5, 3.0), (1.0, 1.0), (1.5, 2.0))
    a_angles, c_angles, positive = [0.1, 0.8, 1.3], [0.0, 0.5, 1.0, 1.5], [2, 0, 2]
    expected = sum(nce_term(a, c_angles[p], c_angles, 0.3) for a, p in zip(a_angles, positive))
    got = infonce_indexed(anchors, candidates, torch.tensor(positive), 0.3)
    assert math.isclose(float(got.detach()), expected, rel_tol=1e-5)
    # gradients against autograd through the formula written out, in float64
    a, c = anchors.double().requires_grad_(), candidates.double().requires_grad_()
    infonce_indexed(a, c, torch.tensor(positive), 0.3).backward()
    a_ref, c_ref = anchors.double().requires_grad_(), candidates.double().requires_grad_()
    an, cn = a_ref / a_ref.norm(dim=1, keepdim=True), c_ref / c_ref.norm(dim=1, keepdim=True)
    logits = an @ cn.T / 0.3
    (torch.log(torch.exp(logits).sum(1)) - logits[torch.arange(3), positive]).sum().backward()
    torch.testing.assert_close(a.grad, a_ref.grad)
    torch.testing.assert_close(c.grad, c_ref.grad)


def test_infonce_indexed_blocks_match_one_block_and_a_second_backward_repeats_the_gradient(monkeypatch):
    from llmrec_cli.rlmrec.backbones import base

    torch.manual_seed(3)
    anchors, candidates, positive = torch.randn(70, 5), torch.randn(9, 5), torch.randint(0, 9, (70,))

    def loss_and_grads():
        a, c = anchors.clone().requires_grad_(), candidates.clone().requires_grad_()
        loss = infonce_indexed(a, c, positive, 0.4)
        loss.backward(retain_graph=True)
        first = a.grad.clone()
        loss.backward()  # a second pass through the same graph adds the same gradient again
        torch.testing.assert_close(a.grad, 2 * first)
        return loss.detach(), first, c.grad / 2

    one_block = loss_and_grads()
    monkeypatch.setattr(base, "BLOCK_ELEMENTS", 9 * 32)  # 32 anchors per block: blocks of 32, 32 and 6
    for got, want in zip(loss_and_grads(), one_block):
        torch.testing.assert_close(got, want)


def test_row_block_bounds_blocks_on_every_device():
    from llmrec_cli.rlmrec.backbones.base import ACCELERATOR_BLOCK_ELEMENTS, BLOCK_ELEMENTS, row_block

    cpu, gpu = torch.device("cpu"), torch.device("cuda")  # only the device type is read: no GPU needed
    assert row_block(3049, 3049, cpu) == BLOCK_ELEMENTS // 3049 == 687
    assert row_block(10, 3049, cpu) == 10  # never more rows than there are
    assert row_block(100, 10**9, cpu) == 32  # at least 32 rows, however wide
    assert row_block(3049, 3049, gpu) == 3049  # Amazon-book's Gen: one block on a GPU
    m = 225_000  # Gen's masked nodes at 10^7 edges: 200 GB as one block
    assert row_block(m, m, gpu) == ACCELERATOR_BLOCK_ELEMENTS // m == 1193
    assert row_block(m, m, gpu) * m * 4 <= 2**30


def _con_and_gen_losses(precision: str) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    torch.manual_seed(0)
    con = ConAlignment(64, 8, {**CON_HP, "align_precision": precision})
    gen = GenAlignment(8, 8, 64, {**GEN_HP, "align_precision": precision})
    torch.manual_seed(1)
    final = torch.randn(30, 8, requires_grad=True)
    sem_users, sem_items = torch.randn(12, 64), torch.randn(18, 64)
    batch = Batch(torch.tensor([0, 3, 5, 11]), torch.tensor([0, 2, 2, 17]), torch.tensor([1, 4, 9, 6]))
    con_loss = con.loss(final, batch, sem_users, sem_items)
    gen_loss = gen.loss(final, torch.tensor([1, 4, 13, 20, 29]), sem_users, sem_items)
    (con_loss + gen_loss).backward()
    return con_loss.detach(), gen_loss.detach(), [final.grad, con.down[0].weight.grad, gen.up[0].weight.grad]


def test_bf16_products_stay_close_to_fp32_with_fp32_losses_and_gradients():
    con32, gen32, grads32 = _con_and_gen_losses("fp32")
    con16, gen16, grads16 = _con_and_gen_losses("bf16")
    assert con16.dtype == gen16.dtype == torch.float32
    assert con16 != con32  # bf16 really ran
    assert con16 == pytest.approx(float(con32), rel=2e-2) and gen16 == pytest.approx(float(gen32), rel=2e-2)
    for g16, g32 in zip(grads16, grads32):
        assert g16.dtype == torch.float32 and torch.isfinite(g16).all()
        assert torch.nn.functional.cosine_similarity(g16.flatten(), g32.flatten(), dim=0) > 0.99


def test_unknown_precision_is_refused():
    from llmrec_cli.errors import LLMRecError

    with pytest.raises(LLMRecError, match="align_precision"):
        ConAlignment(4, 2, {**CON_HP, "align_precision": "fp8"})
