"""Added tokens and their embeddings, tying, the frozen LM, and every loss on the tiny model
(docs/methods/cllm4rec.md §2.2, §4, §5)."""

import numpy as np
import pytest
import torch
from cllm4rec_toy import N_ITEMS, N_USERS

from llmrec_cli.cllm4rec import data
from llmrec_cli.cllm4rec.model import CLLM4Rec
from llmrec_cli.cllm4rec.predict import Recommender
from llmrec_cli.cllm4rec.tokenizer import IdTokenizer
from llmrec_cli.data.dataset import Dataset
from llmrec_cli.evaluate.rank import topk_by_score_fn


@pytest.fixture
def setup(toy_workdir, tiny_backbone):
    ds = Dataset.load(toy_workdir, "toy")
    tok = IdTokenizer(tiny_backbone.encode_words, tiny_backbone.n_vocab, ds.n_users, ds.n_items)
    model = CLLM4Rec(tiny_backbone, ds.n_users, ds.n_items, seed=0)
    return ds, tok, model, data.Prompts(tok, 1024), data.items_by_user(ds)


def test_token_and_embedding_counts(setup, tiny_backbone):
    ds, tok, model, _, _ = setup
    assert tiny_backbone.n_vocab == 50257
    assert model.vocab.size == 50257 + N_USERS + N_ITEMS
    for side in (model.collab, model.content):
        assert side.users.shape == (N_USERS, tiny_backbone.hidden_size)
        assert side.items.shape == (N_ITEMS, tiny_backbone.hidden_size)
        assert abs(float(side.users.detach().std()) - 0.02) < 0.01  # N(0, 0.02^2), GPT-2's initializer range
    assert not torch.equal(model.collab.items, model.content.items)  # drawn independently (code)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"collab.users", "collab.items", "content.users", "content.items"}
    assert set(model.trainable_state()) == {"collab", "content"}  # checkpoints never hold the LM


def test_embedding_lookup_routes_ids_to_words_users_and_items(setup, tiny_backbone):
    ds, tok, model, _, _ = setup
    ids = torch.tensor([[tok.encode_words(" has")[0], tok.user_token(3), tok.item_token(7), 0]])
    emb = model.vocab.embed(ids, tiny_backbone.embed_words, model.content)
    assert torch.equal(emb[0, 0], tiny_backbone.embed_words(ids[0, :1])[0])
    assert torch.equal(emb[0, 1], model.content.users[3])
    assert torch.equal(emb[0, 2], model.content.items[7])


def test_item_heads_are_tied_to_the_item_table(setup):
    ds, tok, model, prompts, train = setup
    model.eval()
    ids, mask = tok.batch([prompts.recommendation(0, train[0])])
    hidden = model.hidden(ids, mask, model.collab)[0, -1]
    expected = torch.log_softmax(hidden @ model.collab.items.T, dim=-1)
    assert torch.allclose(model.recommendation_log_probs(ids, mask)[0], expected, atol=1e-6)
    docs = data.collaborative_documents(prompts, train, rng=None)
    batch = data.collate_documents(docs, np.arange(3))
    model.collaborative_loss(batch).backward()
    # The collaborative LM's output head is the item table itself: an item that is never an input token of these
    # documents still gets a gradient, through the softmax over all J items.
    never_input = sorted(set(range(N_ITEMS)) - {i for u in range(3) for i in train[u].tolist()})
    assert model.collab.items.grad[never_input].abs().sum() > 0
    assert model.content.items.grad is None


def test_frozen_lm_is_untouched_by_a_training_step(setup, tiny_backbone):
    ds, tok, model, prompts, train = setup
    before = {k: v.clone() for k, v in tiny_backbone.state_dict().items()}
    collab_before = model.collab.items.detach().clone()
    optimizer = torch.optim.Adam(model.collab.parameters(), lr=1e-2)
    model.train()
    sequences, targets = data.masked_prompts(prompts, np.arange(N_USERS), train, np.random.default_rng(0))
    ids, mask = tok.batch(sequences)
    loss = model.multinomial_loss(ids, mask, data.multi_hot(targets, N_ITEMS, "cpu"))
    loss.backward()
    optimizer.step()
    assert all(torch.equal(before[k], v) for k, v in tiny_backbone.state_dict().items())
    assert all(not p.requires_grad and p.grad is None for p in tiny_backbone.parameters())
    assert not torch.equal(collab_before, model.collab.items)


def _decreases(losses: list[float]) -> bool:
    return all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_each_loss_is_finite_and_decreases(setup):
    ds, tok, model, prompts, train = setup
    model.eval()  # no dropout: a clean monotone signal on so few steps
    docs = data.collaborative_documents(prompts, train, rng=None)
    collab_batch = data.collate_documents(docs, np.arange(len(docs)))
    corpus = data.content_corpus(ds, tok, 1024)
    content_batch = data.collate_documents(corpus.docs, np.arange(len(corpus.docs)))
    sequences, targets = data.masked_prompts(prompts, np.arange(N_USERS), train, np.random.default_rng(0))
    ids, mask = tok.batch(sequences)
    target = data.multi_hot(targets, N_ITEMS, "cpu")
    losses = {
        "collaborative": (lambda: model.collaborative_loss(collab_batch), model.collab),
        "content": (lambda: model.content_loss(content_batch), model.content),
        "mutual regularisation": (
            lambda: model.mutual_regularisation(collab_batch.ids, model.collab, model.content),
            model.collab,
        ),
        "multinomial": (lambda: model.multinomial_loss(ids, mask, target), model.collab),
    }
    for name, (loss_fn, tables) in losses.items():
        optimizer = torch.optim.Adam(tables.parameters(), lr=1e-2)
        values = []
        for _ in range(6):
            loss = loss_fn()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            values.append(float(loss.detach()))
        assert _decreases(values), (name, values)


def test_mutual_regularisation_counts_user_and_item_occurrences_only(setup):
    ds, tok, model, prompts, train = setup
    ids = torch.tensor([[tok.user_token(1), tok.encode_words(" has")[0], tok.item_token(2), tok.item_token(2), 0]])
    diff_user = (model.collab.users[1] - model.content.users[1]).pow(2).sum()
    diff_item = (model.collab.items[2] - model.content.items[2]).pow(2).sum()
    got = model.mutual_regularisation(ids, model.collab, model.content)
    assert torch.allclose(got, diff_user + 2 * diff_item)
    items_only = model.mutual_regularisation(ids, model.collab, model.content, include_users=False)
    assert torch.allclose(items_only, 2 * diff_item)
    got.backward()
    assert model.content.users.grad is None  # the other side is a constant


def test_prediction_scores_all_items_and_masks_training_items(setup):
    ds, tok, model, prompts, train = setup
    recommender = Recommender(model, prompts, train, seed=0, micro_batch=5)
    users = torch.arange(N_USERS)
    scores = recommender(users)
    assert scores.shape == (N_USERS, N_ITEMS)
    assert torch.allclose(scores.exp().sum(dim=1), torch.ones(N_USERS), atol=1e-5)  # a multinomial over all items
    assert torch.equal(scores, recommender(users))  # seeded prompt order: the same scores every time
    top = topk_by_score_fn(recommender, users, ds.csr("train"), k=N_ITEMS - 4)
    for u in range(N_USERS):
        assert not set(top[u].tolist()) & set(train[u].tolist())  # training items never recommended
        assert sorted(top[u].tolist()) == sorted(set(range(N_ITEMS)) - set(train[u].tolist()))


def test_content_tables_drawn_around_the_collaborative_ones(tiny_backbone):
    model = CLLM4Rec(tiny_backbone, N_USERS, N_ITEMS, seed=0, content_init="around")
    noise = (model.content.items - model.collab.items).detach()
    assert abs(float(noise.std()) - 0.02) < 0.005  # z^c = z^l + N(0, 0.02^2)
    assert not torch.equal(model.content.users, model.collab.users)
