"""Chat backends for `llmrec profile`: ``local`` (in-process GGUF, the offline default) and ``openai`` (any
OpenAI-compatible /v1/chat/completions server). Heavy imports happen only when a backend is created."""

from __future__ import annotations

from dataclasses import dataclass

from llmrec_cli.errors import LLMRecError

BACKENDS = ("local", "openai")


@dataclass(frozen=True)
class BackendOptions:
    backend: str = "local"
    model: str | None = None  # local: a packaged model name or a .gguf path; openai: the server's model name
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 16
    timeout: float = 120.0
    max_retries: int = 6
    threads: int | None = None
    response_format: str = "json_schema"


def check(opts: BackendOptions) -> None:
    if opts.backend not in BACKENDS:
        raise LLMRecError(f"--backend {opts.backend}: choose one of {', '.join(BACKENDS)}")
    if opts.backend == "openai" and (not opts.base_url or not opts.model):
        raise LLMRecError("--backend openai needs --base-url (e.g. http://localhost:8000/v1) and --model")
    if opts.concurrency < 1:
        raise LLMRecError(f"--concurrency {opts.concurrency}: must be at least 1")
    if opts.max_retries < 0 or opts.timeout <= 0:
        raise LLMRecError("--max-retries must be >= 0 and --timeout > 0")
    if opts.response_format not in ("json_schema", "json_object", "none"):
        raise LLMRecError(f"--response-format {opts.response_format}: choose json_schema, json_object or none")


def model_id(opts: BackendOptions) -> str:
    """The resume key's model part, known before anything is loaded."""
    if opts.backend == "openai":
        return f"openai/{opts.model}"
    from llmrec_cli.profile.backends import gguf

    name = opts.model or gguf.DEFAULT_LOCAL_MODEL
    if name in gguf.LOCAL_MODELS:
        return gguf.LOCAL_MODELS[name].model_id
    from pathlib import Path

    path = Path(name).expanduser()
    if not path.is_file():
        raise LLMRecError(
            f"--model {name}: neither a packaged local model ({', '.join(gguf.LOCAL_MODELS)}) nor a .gguf file"
        )
    return f"local/{path.name}:{path.stat().st_size}"


def create(opts: BackendOptions):
    check(opts)
    if opts.backend == "openai":
        from llmrec_cli.profile.backends.openai import OpenAIBackend

        return OpenAIBackend(
            opts.base_url,
            opts.model,
            opts.api_key_env,
            opts.concurrency,
            opts.timeout,
            opts.max_retries,
            opts.response_format,
        )
    from llmrec_cli.profile.backends import gguf
    from llmrec_cli.profile.backends.local import LocalBackend

    return LocalBackend(opts.model or gguf.DEFAULT_LOCAL_MODEL, opts.threads)
