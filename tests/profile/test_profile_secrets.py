"""Issue 17: credentials never leave the process, even from a server that echoes them; a run where every request
failed exits 2 with one line (a run where only some failed still exits 0)."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3

import polars as pl
import pytest
from loopback import LoopbackLLM, profile_via_server

from llmrec_cli.errors import LLMRecError
from llmrec_cli.profile.backends.base import BackendError, FatalBackendError
from llmrec_cli.profile.backends.http import JsonPoster, RetryPolicy
from llmrec_cli.profile.backends.openai import endpoint
from llmrec_cli.profile.store import Key, ProfileStore

KEY = "sk-echoed-secret-key-0123456789"
PASSWORD = "url-password-5678"
QUERY_KEY = "query-key-abcdef987"
BASIC = base64.b64encode(f"bob:{PASSWORD}".encode()).decode()  # what httpx sends for a URL's user:password
SECRETS = (KEY, PASSWORD, QUERY_KEY, BASIC)


class EchoingLLM(LoopbackLLM):
    """Answers the first ``fail`` requests (all with None) with ``status`` and a body quoting the request's headers
    and path, as careless servers and proxies do; the rest as the loopback does."""

    def __init__(self, status: int = 400, fail: int | None = None, **kw):
        super().__init__(**kw)
        self.status, self.fail, self.seen = status, fail, []

    def handle(self, path, body, headers):
        with self.lock:
            self.seen.append((path, dict(headers)))
            failing = self.fail is None or len(self.seen) <= self.fail
        if failing:
            token = headers.get("Authorization", "").partition(" ")[2]  # the bare key, no "Bearer" in front
            echo = {"error": {"note": f"you sent {token}", "message": "bad request", "path": path, "headers": headers}}
            return self.status, {"Content-Type": "application/json"}, json.dumps(echo).encode()
        return super().handle(path.partition("?")[0], body, headers)


def _url(server, with_credentials=True, user=True):
    if not with_credentials:
        return server.url
    url = server.url.replace("http://", f"http://bob:{PASSWORD}@") if user else server.url
    return url + f"?api_key={QUERY_KEY}"


def _profile(cli, workdir, url, *extra):
    return profile_via_server(cli, workdir, url, "--max-retries", "0", *extra, key_env="ECHO_KEY")


def _assert_nowhere(workdir, *texts):
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
    for file in workdir.rglob("*"):  # the store (and its WAL), failures.parquet, answers.parquet, the manifest
        if file.is_file():
            data = file.read_bytes()
            for secret in SECRETS:
                assert secret.encode() not in data, (file, secret)


def test_every_request_failing_exits_2_with_one_line_and_no_secret_anywhere(cli, tiny, monkeypatch):
    monkeypatch.setenv("ECHO_KEY", KEY)
    with EchoingLLM() as server:
        result = _profile(cli, tiny, _url(server, user=False), "--limit", "3")
        path, headers = server.seen[0]
    # the credentials were used for the request itself (the server echoed the bare key, without "Bearer")
    assert headers["Authorization"] == f"Bearer {KEY}" and f"api_key={QUERY_KEY}" in path
    assert path.startswith("/v1/chat/completions?")
    folder = tiny / "profiles" / "tiny" / "steam@1"
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err
    assert "all 6 requests failed (3 items, 3 users)" in lines[0] and "HTTP 400" in lines[0]
    assert str(folder / "failures.parquet") in lines[0] and "--retry-failures" in lines[0]
    assert not (folder / "manifest.json").exists()  # nothing a later stage could take for finished profiles
    failures = pl.read_parquet(folder / "failures.parquet")
    assert failures.height == 6 and "you sent ***" in failures["reason"][0]
    _assert_nowhere(tiny, result.out, result.err)
    with sqlite3.connect(folder / "cache.sqlite") as db:  # also through SQLite's eyes (not only its bytes)
        reasons = [r for (r,) in db.execute("SELECT reason FROM failures")]
    assert len(reasons) == 6 and not any(s in r for r in reasons for s in SECRETS)


def test_some_requests_failing_keeps_exit_0_and_the_manifest_records_no_credentials(cli, tiny, monkeypatch, caplog):
    monkeypatch.setenv("ECHO_KEY", KEY)
    with EchoingLLM(fail=2) as server:
        result = _profile(cli, tiny, _url(server), "--limit", "3")
        path, headers = server.seen[0]
    assert result.code == 0, result.err
    assert headers["Authorization"] == f"Basic {BASIC}" and f"api_key={QUERY_KEY}" in path  # httpx: user:password wins
    assert "Basic auth in place of the key in $ECHO_KEY" in caplog.text  # said, not silent
    folder = tiny / "profiles" / "tiny" / "steam@1"
    counts = json.loads((folder / "manifest.json").read_text())["counts"]
    assert counts["items"]["failed"] + counts["users"]["failed"] == 2
    assert counts["items"]["profiled"] + counts["users"]["profiled"] == 4
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (
        manifest["config"]["backend"]["base_url"]
        == _url(server, False).replace("http://", "http://***@") + "?api_key=***"
    )
    _assert_nowhere(tiny, result.out, result.err)
    again = _profile(cli, tiny, _url(server), "--limit", "3")  # recorded without credentials, still up to date
    assert again.code == 0 and "up to date" in again.out


def test_a_rejected_key_stops_the_run_without_quoting_it(cli, tiny, monkeypatch):
    monkeypatch.setenv("ECHO_KEY", KEY)
    with EchoingLLM(status=401) as server:
        result = _profile(cli, tiny, _url(server), "--limit", "1")
    assert result.code == 2 and "refused the API key" in result.err and "***" in result.err
    _assert_nowhere(tiny, result.out, result.err)


def test_a_key_echoed_alone_is_scrubbed():
    """The poster's own error text: a server quoting the bare key (no Bearer in front) within the quoted part."""
    with EchoingLLM() as server:
        poster = JsonPoster({"Authorization": f"Bearer {KEY}"}, RetryPolicy(0, timeout=5), 1)
        from llmrec_cli.redact import remember

        remember(KEY)  # what api_headers does with a key it reads

        async def go():
            server.status = 400
            try:
                await poster.post(server.url + "/chat/completions", {"x": 1})
            finally:
                await poster.aclose()

        with pytest.raises(BackendError) as raised:
            asyncio.run(go())
    assert KEY not in str(raised.value) and KEY[:12] not in str(raised.value)


def test_a_bad_base_url_is_quoted_without_its_credentials():
    with pytest.raises(LLMRecError) as raised:
        endpoint(f"ftp://bob:{PASSWORD}@host/v1?key={QUERY_KEY}", "chat/completions")
    assert PASSWORD not in str(raised.value) and QUERY_KEY not in str(raised.value)
    assert "ftp://***@host/v1?key=***" in str(raised.value)
    # a query string stays after the path, as typed, for the request itself
    assert endpoint(f"http://h/v1/?api_key={QUERY_KEY}", "embeddings") == f"http://h/v1/embeddings?api_key={QUERY_KEY}"


def test_the_store_scrubs_failures_itself(tmp_path):
    from llmrec_cli.redact import remember

    remember(KEY)
    store = ProfileStore(tmp_path / "cache.sqlite")
    try:
        store.record_failure(
            Key("item", 1, "p", "m", "i"),
            "t@1",
            f"backend: HTTP 400: key {KEY}",
            1,
            f'{{"authorization": "Bearer {KEY}"}}',
        )
        row = store.failures("item", "p", "m").row(0, named=True)
    finally:
        store.close()
    assert KEY not in row["reason"] and KEY not in row["last_answer"] and "***" in row["reason"]


def test_embeddings_errors_do_not_quote_the_key(monkeypatch):
    from llmrec_cli.embed.openai import OpenAIEncoder

    monkeypatch.setenv("ECHO_KEY", KEY)
    with EchoingLLM() as server:
        encoder = OpenAIEncoder(_url(server, user=False), "emb", "ECHO_KEY", concurrency=1, max_retries=0, timeout=5)
        with pytest.raises(LLMRecError) as raised:
            encoder.encode_batches([["a text"]])
        path, headers = server.seen[0]
    assert headers["Authorization"] == f"Bearer {KEY}" and path.startswith("/v1/embeddings?api_key=")
    assert "HTTP 400" in str(raised.value)
    for secret in SECRETS:
        assert secret not in str(raised.value)


def test_fatal_errors_are_scrubbed_too():
    """FatalBackendError quotes the URL: its query key and userinfo never appear."""
    with EchoingLLM(status=403) as server:
        poster = JsonPoster({}, RetryPolicy(0, timeout=5), 1)

        async def go():
            try:
                await poster.post(endpoint(_url(server), "chat/completions"), {"x": 1})
            finally:
                await poster.aclose()

        with pytest.raises(FatalBackendError) as raised:
            asyncio.run(go())
    for secret in SECRETS:
        assert secret not in str(raised.value)
