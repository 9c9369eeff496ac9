"""The offline default: a GGUF model run in-process by xllamacpp (llama.cpp), JSON-schema constrained."""

from __future__ import annotations

import asyncio
import os
import threading

from llmrec_cli.errors import LLMRecError
from llmrec_cli.profile.backends import gguf
from llmrec_cli.profile.backends.base import BackendError, ChatRequest, Completion

XLLAMACPP_PIP = "make setup-llm  (or: pip install xllamacpp==2026.10.11549)"
DEFAULT_TEMPERATURE = 0.0  # deterministic answers, so a rerun reproduces the shipped demo profiles
REPEAT_PENALTY = 1.1  # small models loop until max_tokens without a mild penalty


def default_threads() -> int:
    # one core is left to everything else: llama.cpp threads spin-wait, and on a busy machine a thread
    # competing for the last core slows all of them several times over (measured: 2.9 vs 11 tok/s on 2 cores)
    return max(1, min((os.cpu_count() or 2) - 1, 8))


class LocalBackend:
    """One llama.cpp context in this process. Requests are served one at a time: on a few CPU cores a second
    parallel slot only slows both down (see shared/docs/models.md)."""

    concurrency = 1

    def __init__(
        self,
        model: str = gguf.DEFAULT_LOCAL_MODEL,
        threads: int | None = None,
        n_ctx: int = 4096,
        repeat_penalty: float = REPEAT_PENALTY,
    ):
        path, self.model_id = gguf.resolve(model)
        self.path = path
        self.repeat_penalty = repeat_penalty
        self._server = _start_server(str(path), threads or default_threads(), n_ctx)
        self._lock = threading.Lock()

    async def complete(self, request: ChatRequest) -> Completion:
        return await asyncio.to_thread(self.complete_sync, request)

    def complete_sync(self, request: ChatRequest) -> Completion:
        body = chat_body(request, self.repeat_penalty)
        with self._lock:
            answer = self._server.handle_chat_completions(body)
        return parse_answer(answer)

    def raw_chat(self, body: dict) -> dict:
        """The runtime's own call, for the benchmark that compares our path against it."""
        with self._lock:
            return self._server.handle_chat_completions(body)

    async def aclose(self) -> None:
        self._server = None


def _start_server(path: str, threads: int, n_ctx: int):
    try:
        import xllamacpp as xlc
    except ImportError:
        raise LLMRecError(
            f"--backend local needs the xllamacpp runtime, which is not installed; run: {XLLAMACPP_PIP}"
        ) from None
    params = xlc.CommonParams()
    params.model.path = path
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.cpuparams.poll = 0
    params.cpuparams_batch.poll = 0
    params.verbosity = -1
    params.warmup = False
    try:
        return xlc.Server(params)
    except Exception as exc:  # the runtime raises plain RuntimeError/ValueError on a bad file
        raise LLMRecError(f"{path}: llama.cpp could not load this model ({exc})") from None


def chat_body(request: ChatRequest, repeat_penalty: float) -> dict:
    temperature = DEFAULT_TEMPERATURE if request.temperature is None else request.temperature
    body = {
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "temperature": temperature,
        "repeat_penalty": repeat_penalty,
        "response_format": {"type": "json_schema", "json_schema": {"schema": request.schema}},
    }
    if request.seed is not None:
        body["seed"] = request.seed
    return body


def parse_answer(answer: dict) -> Completion:
    if not isinstance(answer, dict) or "error" in answer or not answer.get("choices"):
        detail = answer.get("error") if isinstance(answer, dict) else answer
        raise BackendError(f"llama.cpp returned an error: {str(detail)[:200]}")
    message = answer["choices"][0].get("message") or {}
    usage = answer.get("usage") or {}
    return Completion(
        text=message.get("content") or "",
        input_tokens=int(usage.get("prompt_tokens", 0)),
        output_tokens=int(usage.get("completion_tokens", 0)),
        timings=answer.get("timings") or {},
    )
