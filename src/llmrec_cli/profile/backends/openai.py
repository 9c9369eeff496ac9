"""Any OpenAI-compatible ``/v1/chat/completions`` server (OpenAI, vLLM, llama.cpp server, Ollama) via httpx.

The API key is read from an environment variable at start and kept only in the client's headers: it is never
written to a manifest, a log line or an error message (``llmrec_cli.redact`` scrubs it, and credentials typed into
``--base-url``, from everything quoted or recorded, even when a server echoes them).
"""

from __future__ import annotations

import logging
import os
from urllib.parse import urlsplit

from llmrec_cli.errors import LLMRecError
from llmrec_cli.profile.backends.base import BackendError, ChatRequest, Completion
from llmrec_cli.profile.backends.http import JsonPoster, RetryPolicy
from llmrec_cli.redact import redact, remember, remember_url

RESPONSE_FORMATS = ("json_schema", "json_object", "none")


def api_headers(api_key_env: str | None, base_url: str = "") -> dict:
    """The Bearer header of the key in ``$api_key_env``. A ``user:password@`` in ``base_url`` is sent by httpx as
    Basic auth, which replaces that header: said once as a warning, since the key is then not used."""
    key = os.environ.get(api_key_env, "") if api_key_env else ""
    remember(key)
    if key and urlsplit(base_url).username is not None:
        logging.getLogger(__name__).warning(
            "--base-url carries user:password@, sent as HTTP Basic auth in place of the key in $%s; drop one of "
            "them if that is not what the server expects",
            api_key_env,
        )
    return {"Authorization": f"Bearer {key}"} if key else {}


def endpoint(base_url: str, path: str) -> str:
    """``base_url`` + ``/path``, keeping a query string (``?api_key=...``) after the path, as typed."""
    remember_url(base_url)  # used as typed for the request, scrubbed from every message
    if not base_url.startswith(("http://", "https://")):
        raise LLMRecError(f"--base-url {redact(base_url)}: expected http(s)://HOST[:PORT]/v1")
    base, sep, query = base_url.partition("?")
    return f"{base.rstrip('/')}/{path}{sep}{query}"


class OpenAIBackend:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        concurrency: int = 16,
        timeout: float = 120.0,
        max_retries: int = 6,
        response_format: str = "json_schema",
        poster: JsonPoster | None = None,
    ):
        if response_format not in RESPONSE_FORMATS:
            raise LLMRecError(f"--response-format {response_format}: choose one of {', '.join(RESPONSE_FORMATS)}")
        self.url = endpoint(base_url, "chat/completions")
        self.model = model
        self.model_id = f"openai/{model}"
        self.concurrency = concurrency
        self.response_format = response_format
        self.poster = poster or JsonPoster(
            api_headers(api_key_env, base_url), RetryPolicy(max_retries, timeout=timeout), concurrency
        )

    def body(self, request: ChatRequest) -> dict:
        body = {"model": self.model, "messages": request.messages, "max_tokens": request.max_tokens}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.seed is not None:
            body["seed"] = request.seed
        if self.response_format == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "profile", "schema": request.schema},
            }
        elif self.response_format == "json_object":
            body["response_format"] = {"type": "json_object"}
        return body

    async def complete(self, request: ChatRequest) -> Completion:
        answer = await self.poster.post(self.url, self.body(request))
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"answer without choices[0].message.content: {redact(str(answer))[:200]}") from None
        usage = answer.get("usage") or {}
        return Completion(content or "", int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))

    async def aclose(self) -> None:
        await self.poster.aclose()
