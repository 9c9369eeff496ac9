"""POST JSON to an OpenAI-compatible server with bounded retries (shared by chat completions and embeddings).

Retried: HTTP 408, 409, 425, 429 and every 5xx, timeouts, connection errors, and a 200 whose body is not JSON.
The wait before retry n (0-based) is drawn uniformly from [d/2, d] with d = min(max_delay, base_delay * 2**n)
("equal jitter": concurrent clients spread out but none retries at once), and is at least the server's
``Retry-After`` when it sends one. 401/403/404 stop the run (every request would fail alike); other 4xx reject
only this request.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

import httpx

from llmrec_cli.profile.backends.base import BackendError, FatalBackendError
from llmrec_cli.redact import redact

RETRY_STATUS = {408, 409, 425, 429}
FATAL_STATUS = {
    401: "the server refused the API key",
    403: "the API key may not use this model or endpoint",
    404: "no such endpoint or model on this server",
}
MAX_RETRY_AFTER = 600.0  # a server asking for longer than this is treated as down


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 120.0


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(retry: int, policy: RetryPolicy, rng: random.Random, retry_after: float | None = None) -> float:
    ceiling = min(policy.max_delay, policy.base_delay * (2**retry))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


class JsonPoster:
    """One pooled async client; ``post(url, body)`` returns the decoded JSON body or raises BackendError."""

    def __init__(
        self,
        headers: dict,
        policy: RetryPolicy,
        concurrency: int,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        seed: int | None = None,
    ):
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = httpx.AsyncClient(headers=headers, timeout=policy.timeout, limits=limits)
        self.policy = policy
        self.sleep = sleep
        self.rng = random.Random(seed)
        self.retries = 0  # total retries so far, for reporting

    async def post(self, url: str, body: dict) -> dict:
        last = ""
        for attempt in range(self.policy.max_retries + 1):
            retry_after = None
            try:
                response = await self.client.post(url, json=body)
            except httpx.TimeoutException:
                last = f"timed out after {self.policy.timeout:g}s"
            except httpx.TransportError as exc:
                last = f"connection error ({type(exc).__name__})"
            else:
                outcome = _judge(response)
                if isinstance(outcome, dict):
                    return outcome
                last, retry_after = outcome, retry_after_seconds(response.headers.get("retry-after"))
            if attempt == self.policy.max_retries:
                break
            self.retries += 1
            await self.sleep(backoff_delay(attempt, self.policy, self.rng, retry_after))
        raise BackendError(f"gave up after {self.policy.max_retries + 1} tries: {last}")

    async def aclose(self) -> None:
        await self.client.aclose()


def _judge(response: httpx.Response) -> dict | str:
    """The JSON body of a good answer; a reason string for a retryable one; raises otherwise."""
    status = response.status_code
    if status == 200:
        try:
            body = response.json()
        except ValueError:
            return "HTTP 200 with a body that is not JSON"
        return body if isinstance(body, dict) else "HTTP 200 with a JSON body that is not an object"
    if status in RETRY_STATUS or status >= 500:
        return f"HTTP {status}"
    detail = redact(response.text)[:200].replace("\n", " ")  # scrubbed before the cut: a server may echo the key
    if status in FATAL_STATUS:
        url = redact(str(response.request.url))
        raise FatalBackendError(f"{url}: HTTP {status}, {FATAL_STATUS[status]} ({detail})")
    raise BackendError(f"HTTP {status}: {detail}")
