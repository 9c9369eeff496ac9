"""The atomic user/item tokens on top of the real GPT-2 BPE: the documented test vectors
(docs/methods/cllm4rec.md §2.1, §3.5)."""

import pytest
import torch

from llmrec_cli.cllm4rec.tokenizer import GPT2_VOCAB_SIZE, IdTokenizer, gpt2_encoding
from llmrec_cli.errors import LLMRecError

BEAUTY_USERS, BEAUTY_ITEMS = 10553, 6086


@pytest.fixture(scope="module")
def tok():
    return IdTokenizer.gpt2(BEAUTY_USERS, BEAUTY_ITEMS)


def test_gpt2_bpe_is_the_original():
    encoding = gpt2_encoding()
    assert encoding.n_vocab == GPT2_VOCAB_SIZE == 50257
    assert encoding.encode_ordinary("Hello world") == [15496, 995]


def test_spec_test_vectors(tok):
    item_0 = 50257 + BEAUTY_USERS
    assert item_0 == 60810
    assert tok.encode("user_0 has interacted with") == [50257, 468, 49236, 351]
    # The README's ids (2630 = " wrote") match the official preprocessing's "wrote the following review".
    assert tok.encode("user_0 wrote the following review for item_0:") == [
        50257,
        2630,
        262,
        1708,
        2423,
        329,
        item_0,
        25,
    ]
    assert tok.encode(", user_0 will interact with") == [11, 50257, 481, 9427, 351]


def test_readme_example_and_vanishing_spaces(tok):
    ids = tok.encode("Hello, user_1! Have you seen item_2?")
    words = gpt2_encoding().encode_ordinary
    assert ids == words("Hello,") + [50258] + words("!") + words(" Have you seen") + [50257 + BEAUTY_USERS + 2] + words(
        "?"
    )
    assert tok.encode("item_1 item_2") == [60811, 60812]  # no space token between consecutive ID tokens


def test_ids_out_of_range_are_an_error(tok):
    with pytest.raises(LLMRecError, match="out of range"):
        tok.encode(f"item_{BEAUTY_ITEMS}")


def test_batch_is_right_padded_with_zero(tok):
    ids, mask = tok.batch([[5, 6, 7], [8]])
    assert torch.equal(ids, torch.tensor([[5, 6, 7], [8, 0, 0]]))
    assert torch.equal(mask, torch.tensor([[1, 1, 1], [1, 0, 0]]))
