"""Tokenizer with atomic user/item tokens (docs/methods/cllm4rec.md §2.1).

"user_i" -> id N + i and "item_j" -> id N + I + j, never split; everything else goes through the backbone's own
tokenizer. Pre-tokenisation follows the official code: split on (user_\\d+|item_\\d+), right-strip every piece, drop
empty pieces. So " has" stays one BPE token, while spaces between consecutive ID tokens vanish.

The GPT-2 BPE (the paper's vocabulary) loads offline from the ``gpt2.tiktoken`` asset that openai-whisper ships
(install it with ``pip install --no-deps openai-whisper``); it is located without importing whisper, whose import
needs numba.
"""

from __future__ import annotations

import base64
import importlib.util
import re
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import torch

from llmrec_cli.errors import LLMRecError

ID_PATTERN = re.compile(r"(user_\d+|item_\d+)")
GPT2_VOCAB_SIZE = 50257
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
PAD_ID = 0  # right padding with id 0, as the official code does; the attention mask hides it


def whisper_gpt2_asset() -> Path:
    spec = importlib.util.find_spec("whisper")
    if spec is None or not spec.submodule_search_locations:
        raise LLMRecError(
            "GPT-2 tokenizer: the openai-whisper package is not installed; run `make setup-cllm4rec` "
            "(pip install --no-deps openai-whisper==20250625)"
        )
    path = Path(spec.submodule_search_locations[0]) / "assets" / "gpt2.tiktoken"
    if not path.is_file():
        raise LLMRecError(f"{path}: missing from the openai-whisper package; reinstall it with --no-deps")
    return path


@lru_cache(maxsize=1)
def gpt2_encoding():
    """The original GPT-2 BPE as a tiktoken Encoding (50,257 tokens, "Hello world" -> [15496, 995])."""
    import tiktoken

    ranks = {}
    for line in whisper_gpt2_asset().read_text().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(
        "gpt2", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={"<|endoftext|>": GPT2_VOCAB_SIZE - 1}
    )


class IdTokenizer:
    """Text with user_i / item_j tokens -> ids of the extended vocabulary [words; users; items]."""

    def __init__(self, encode_words: Callable[[str], list[int]], n_vocab: int, n_users: int, n_items: int):
        self.encode_words = encode_words
        self.n_vocab, self.n_users, self.n_items = n_vocab, n_users, n_items

    @classmethod
    def gpt2(cls, n_users: int, n_items: int) -> "IdTokenizer":
        encoding = gpt2_encoding()
        return cls(encoding.encode_ordinary, GPT2_VOCAB_SIZE, n_users, n_items)

    def user_token(self, user: int) -> int:
        return self.n_vocab + int(user)

    def item_token(self, item: int) -> int:
        return self.n_vocab + self.n_users + int(item)

    def item_tokens(self, items: Sequence[int]) -> list[int]:
        offset = self.n_vocab + self.n_users
        return [offset + int(j) for j in items]

    def _id_token(self, piece: str) -> int | None:
        kind, _, number = piece.partition("_")
        index = int(number)
        limit = self.n_users if kind == "user" else self.n_items
        if index >= limit:
            raise LLMRecError(f"tokenizer: '{piece}' is out of range ({limit} {kind}s)")
        return self.user_token(index) if kind == "user" else self.item_token(index)

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece in ID_PATTERN.split(text):
            piece = piece.rstrip()
            if not piece:
                continue
            if ID_PATTERN.fullmatch(piece):
                ids.append(self._id_token(piece))
            else:
                ids.extend(self.encode_words(piece))
        return ids

    def batch(self, sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded (ids, attention mask), pad id 0 (docs/methods/cllm4rec.md §2.1)."""
        return pad_right(sequences)


def pad_right(sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    length = max((len(s) for s in sequences), default=0)
    ids = torch.full((len(sequences), length), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask
