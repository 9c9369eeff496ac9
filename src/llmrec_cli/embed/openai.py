"""Any OpenAI-compatible ``/v1/embeddings`` endpoint (the paper used text-embedding-ada-002, 1536-d).

Batches go out concurrently with the same bounded retry policy as profile generation; the key is read from an
environment variable and never written anywhere.
"""

from __future__ import annotations

import asyncio
import re

import numpy as np

from llmrec_cli.errors import LLMRecError
from llmrec_cli.profile.backends.base import BackendError, FatalBackendError
from llmrec_cli.profile.backends.http import JsonPoster, RetryPolicy
from llmrec_cli.profile.backends.openai import api_headers, endpoint
from llmrec_cli.redact import redact


class OpenAIEncoder:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 6,
    ):
        if not base_url or not model:
            raise LLMRecError("--encoder openai needs --base-url (e.g. https://api.openai.com/v1) and --model")
        self.url = endpoint(base_url, "embeddings")
        self.model = model
        self.name = re.sub(r"[^a-z0-9._-]+", "-", model.lower()).strip("-")
        self.model_id = f"openai/{model}"
        self.concurrency = concurrency
        self.policy = RetryPolicy(max_retries, timeout=timeout)
        self.headers = api_headers(api_key_env, base_url)
        self.dim: int | None = None

    def encode_batches(self, batches: list[list[str]], on_batch=None) -> list[np.ndarray]:
        try:
            return asyncio.run(self._encode_all(batches, on_batch))
        except (BackendError, FatalBackendError) as exc:
            raise LLMRecError(f"{redact(self.url)}: {redact(str(exc))}") from None

    async def _encode_all(self, batches, on_batch) -> list[np.ndarray]:
        poster = JsonPoster(self.headers, self.policy, self.concurrency)
        gate = asyncio.Semaphore(self.concurrency)

        async def one(batch: list[str]) -> np.ndarray:
            async with gate:
                answer = await poster.post(self.url, {"model": self.model, "input": batch})
            vectors = parse_embeddings(answer, len(batch))
            if on_batch:
                on_batch(len(batch))
            return vectors

        try:
            out = await asyncio.gather(*(one(b) for b in batches))
        finally:
            await poster.aclose()
        if out:
            self.dim = int(out[0].shape[1])
        return list(out)


def parse_embeddings(answer: dict, expected: int) -> np.ndarray:
    """The ``data`` list in ``index`` order as a float32 matrix; BackendError when it does not fit the request."""
    data = answer.get("data")
    if not isinstance(data, list) or len(data) != expected:
        raise BackendError(f"expected {expected} embeddings, got {len(data) if isinstance(data, list) else 'none'}")
    try:
        rows = sorted(data, key=lambda d: d.get("index", 0))
        matrix = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
    except (KeyError, TypeError, ValueError):
        raise BackendError("embeddings answer without numeric data[i].embedding vectors of one length") from None
    if matrix.ndim != 2 or not np.isfinite(matrix).all():
        raise BackendError("embeddings answer with vectors of different lengths or non-finite values")
    return matrix
