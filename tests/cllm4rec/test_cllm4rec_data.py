"""Document and prompt building on the toy dataset: orders, masking, no validation/test leakage
(docs/methods/cllm4rec.md §3, §5, §6)."""

import numpy as np
import pytest
from cllm4rec_toy import N_ITEMS, N_USERS, toy_splits

from llmrec_cli.cllm4rec import data
from llmrec_cli.cllm4rec.tokenizer import IdTokenizer
from llmrec_cli.data.dataset import Dataset


@pytest.fixture(scope="module")
def toy(toy_workdir):
    ds = Dataset.load(toy_workdir, "toy")
    tok = IdTokenizer.gpt2(ds.n_users, ds.n_items)
    return ds, tok, data.Prompts(tok, 1024), data.items_by_user(ds)


def held_out(split_names=("valid", "test")) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for name in split_names:
        for u, i in toy_splits()[name]:
            out.setdefault(u, set()).add(i)
    return out


def items_in(tok, ids) -> set[int]:
    offset = tok.n_vocab + tok.n_users
    return {t - offset for t in ids if t >= offset}


def test_collaborative_documents_match_the_tokenizer_and_hold_training_items_only(toy):
    ds, tok, prompts, train = toy
    docs = data.collaborative_documents(prompts, train, rng=None)
    assert len(docs) == N_USERS
    for u in range(N_USERS):
        text = f"user_{u} has interacted with " + " ".join(f"item_{i}" for i in train[u])
        assert docs.prompts[u] + docs.mains[u] == tok.encode(text)
        assert items_in(tok, docs.mains[u]) == set(train[u].tolist())
        assert not items_in(tok, docs.mains[u]) & held_out()[u]


def test_item_order_is_ascending_by_default_and_a_seeded_permutation_when_shuffled(toy):
    ds, tok, prompts, train = toy
    offset = tok.n_vocab + tok.n_users
    fixed = data.collaborative_documents(prompts, train, rng=None)
    assert all(main == sorted(main) for main in fixed.mains)
    a = data.collaborative_documents(prompts, train, np.random.default_rng(1))
    b = data.collaborative_documents(prompts, train, np.random.default_rng(1))
    c = data.collaborative_documents(prompts, train, np.random.default_rng(2))
    assert a.mains == b.mains and a.mains != c.mains
    for u, main in enumerate(a.mains):
        assert sorted(t - offset for t in main) == sorted(train[u].tolist())


def test_content_corpus_uses_reviews_of_training_pairs_only(toy):
    ds, tok, _, train = toy
    corpus = data.content_corpus(ds, tok, 1024)
    assert corpus.source == "reviews" and corpus.covers_users
    assert len(corpus.docs) == len(toy_splits()["train"])  # the three test-pair reviews are dropped
    for prompt in corpus.docs.prompts:
        user = prompt[0] - tok.n_vocab
        assert items_in(tok, prompt) <= set(train[user].tolist())


def test_item_text_documents_when_there_are_no_reviews(toy_workdir):
    ds = Dataset.load(toy_workdir, "toy-noreviews")
    tok = IdTokenizer.gpt2(ds.n_users, ds.n_items)
    corpus = data.content_corpus(ds, tok, 1024)
    assert corpus.source == "item_text:title,tags" and not corpus.covers_users
    assert len(corpus.docs) == 2 * N_ITEMS
    assert corpus.docs.prompts[0] == tok.encode("The title of item_0 is:")
    assert corpus.docs.mains[0] == tok.encode(" red lipstick")
    assert corpus.docs.prompts[N_ITEMS] == tok.encode("The tags of item_0 are:")
    assert corpus.docs.mains[N_ITEMS] == tok.encode(" red, blue")


def test_masked_prompts(toy):
    ds, tok, prompts, train = toy
    users = np.arange(N_USERS)
    rng = np.random.default_rng(0)
    sequences, targets = data.masked_prompts(prompts, users, train, rng, target="all")
    _, masked_targets = data.masked_prompts(prompts, users, train, np.random.default_rng(0), target="masked")
    for u in users:
        visible = items_in(tok, sequences[u])
        n_masked = max(1, int(0.2 * train[u].size))
        assert len(visible) == train[u].size - n_masked
        assert set(targets[u].tolist()) == set(train[u].tolist())  # code: all training items
        assert set(masked_targets[u].tolist()) == set(train[u].tolist()) - visible  # paper: the hold-out ones
        assert not visible & held_out()[u]
        text = (
            f"user_{u} has interacted with "
            + " ".join(f"item_{i - tok.n_vocab - tok.n_users}" for i in sequences[u] if i >= tok.n_vocab + tok.n_users)
            + f", user_{u} will interact with"
        )
        assert sequences[u] == tok.encode(text)


def test_truncation_cuts_the_end(toy):
    ds, tok, _, train = toy
    short = data.Prompts(tok, 6)
    docs = data.collaborative_documents(short, train, rng=None)
    assert all(len(p) + len(m) <= 6 for p, m in zip(docs.prompts, docs.mains))
    assert short.recommendation(0, train[0]) == data.Prompts(tok, 1024).recommendation(0, train[0])[:6]


def test_collate_scores_main_tokens_after_the_first():
    docs = data.Documents([[1, 2, 3]], [[7, 8, 9]])
    batch = data.collate_documents(docs, np.array([0]))
    assert batch.targets[0].tolist() == [False, False, False, False, True, True]
    assert batch.prompt_mask[0].tolist() == [True, True, True, False, False, False]
    first = data.collate_documents(docs, np.array([0]), score_first=True)
    assert first.targets[0].tolist() == [False, False, False, True, True, True]


def test_length_bucketed_batches_cover_every_index_once():
    lengths = np.random.default_rng(0).integers(1, 50, 1000)
    batches = data.length_bucketed_batches(lengths, 16, np.random.default_rng(3))
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
