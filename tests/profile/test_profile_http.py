"""The OpenAI-compatible backend against a loopback server injecting 429, 500, timeouts and bad JSON."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from loopback import LoopbackLLM

from llmrec_cli.errors import LLMRecError
from llmrec_cli.profile.backends.base import BackendError, ChatRequest, FatalBackendError
from llmrec_cli.profile.backends.http import JsonPoster, RetryPolicy, backoff_delay, retry_after_seconds
from llmrec_cli.profile.backends.openai import OpenAIBackend

REQUEST = ChatRequest(
    [{"role": "system", "content": "s"}, {"role": "user", "content": "hello"}], {"type": "object"}, max_tokens=50
)


def _backend(
    server: LoopbackLLM, sleeps: list | None = None, retries: int = 4, timeout: float = 5.0, concurrency: int = 4
):
    async def fake_sleep(seconds: float) -> None:  # records the backoff instead of waiting it out
        sleeps.append(seconds)

    policy = RetryPolicy(retries, base_delay=0.5, max_delay=8.0, timeout=timeout)
    poster = JsonPoster(
        {"Authorization": "Bearer test-key"},
        policy,
        concurrency,
        sleep=fake_sleep if sleeps is not None else asyncio.sleep,
        seed=1,
    )
    return OpenAIBackend(server.url, "loop-model", None, concurrency, timeout, retries, poster=poster)


def _complete(backend, request=REQUEST):
    async def go():
        try:
            return await backend.complete(request)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_success_sends_an_openai_body_with_the_schema():
    with LoopbackLLM() as server:
        done = _complete(_backend(server))
    assert done.text.startswith('{"summarization": "S:') and (done.input_tokens, done.output_tokens) == (100, 20)
    body = server.chat_requests()[0]
    assert body["model"] == "loop-model" and body["messages"] == REQUEST.messages and body["max_tokens"] == 50
    assert body["response_format"]["type"] == "json_schema" and body["response_format"]["json_schema"]["schema"] == {
        "type": "object"
    }
    assert "temperature" not in body  # the server's default unless asked, as RLMRec did
    assert server.requests[0]["auth"] == "Bearer test-key"


def test_429_and_500_are_retried_with_backoff_honouring_retry_after():
    sleeps: list[float] = []
    with LoopbackLLM(faults=["429", "500", "500"], retry_after="3") as server:
        done = _complete(_backend(server, sleeps))
    assert done.text.startswith('{"summarization"')
    assert server.statuses == [429, 500, 500, 200]
    assert len(sleeps) == 3 and sleeps[0] >= 3.0  # Retry-After: 3 beats the 0.25-0.5 s backoff
    assert 0.5 <= sleeps[1] <= 1.0 and 1.0 <= sleeps[2] <= 2.0  # equal jitter on 0.5 * 2**n


def test_timeouts_and_bad_json_bodies_are_retried():
    with LoopbackLLM(faults=["timeout", "badjson", "timeout"], timeout_delay=1.5) as server:
        start = time.perf_counter()
        done = _complete(_backend(server, [], timeout=0.5))
    assert done.text.startswith('{"summarization"') and len(server.requests) == 4
    assert time.perf_counter() - start < 5


def test_retries_are_bounded_then_the_request_fails():
    sleeps: list[float] = []
    with LoopbackLLM(faults=["500"] * 10) as server:
        with pytest.raises(BackendError, match="gave up after 3 tries: HTTP 500"):
            _complete(_backend(server, sleeps, retries=2))
    assert len(server.requests) == 3 and len(sleeps) == 2


def test_auth_failure_stops_everything_and_a_400_rejects_one_request():
    with LoopbackLLM(faults=["401"]) as server:
        with pytest.raises(FatalBackendError, match="HTTP 401, the server refused the API key"):
            _complete(_backend(server, []))
    with LoopbackLLM(faults=["400"]) as server:
        with pytest.raises(BackendError, match="HTTP 400"):
            _complete(_backend(server, []))
    assert len(server.requests) == 1  # no retry on a request the server calls bad


def test_requests_run_concurrently_up_to_the_limit():
    with LoopbackLLM(latency=0.2) as server:
        backend = _backend(server, concurrency=8)

        async def many():
            try:
                return await asyncio.gather(*(backend.complete(REQUEST) for _ in range(16)))
            finally:
                await backend.aclose()

        start = time.perf_counter()
        answers = asyncio.run(many())
        elapsed = time.perf_counter() - start
    assert len(answers) == 16 and 4 <= server.max_in_flight <= 8  # the connection pool is the limit
    assert elapsed < 1.6  # sequential would take 3.2 s


def test_backoff_is_exponential_capped_and_jittered():
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0)
    rng = random.Random(0)
    for retry, ceiling in [(0, 1.0), (1, 2.0), (3, 8.0), (6, 10.0)]:
        draws = [backoff_delay(retry, policy, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in draws) and len(set(draws)) > 1
    assert backoff_delay(0, policy, rng, retry_after=7.0) == 7.0


def test_retry_after_parses_seconds_and_http_dates():
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_base_url_must_be_http():
    with pytest.raises(LLMRecError, match="expected http"):
        OpenAIBackend("localhost:8000/v1", "m")
