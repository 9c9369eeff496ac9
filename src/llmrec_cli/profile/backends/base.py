"""What the profile runner needs from a chat backend, whatever serves it (in-process GGUF or an HTTP server)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict]
    schema: dict  # the JSON schema the answer must follow
    max_tokens: int
    temperature: float | None = None  # None: the server's default (RLMRec sets none)
    seed: int | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    timings: dict = field(default_factory=dict)


class BackendError(Exception):
    """One request failed for good (retries exhausted, or rejected): recorded as that entity's failure."""


class FatalBackendError(Exception):
    """Every request would fail the same way (bad key, unknown model, missing runtime): stop the whole run."""


class ChatBackend(Protocol):
    model_id: str  # part of the resume key: a different model never reuses another model's answers
    concurrency: int

    async def complete(self, request: ChatRequest) -> Completion: ...

    async def aclose(self) -> None: ...
