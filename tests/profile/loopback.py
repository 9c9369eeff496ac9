"""A test double of an OpenAI-compatible server on 127.0.0.1: /v1/chat/completions and /v1/embeddings.

It answers every chat request with a valid profile whose summarization names the sha256 of the user message
(``S:<16 hex>``), so a test can tell which prompt an answer came from. Faults are injected from a queue, one per
request, in arrival order: "429" (with Retry-After), "500", "timeout" (answers after the client gave up), "badjson"
(a 200 whose body is not JSON), "prose" and "fence" (valid JSON wrapped in text), "invalid" (JSON breaking the
schema), "401", "400". Used by the tests and by benchmarks/profile_throughput.py; traffic never leaves loopback.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


def message_sha(body: dict) -> str:
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return hashlib.sha256(user.encode()).hexdigest()[:16]


class LoopbackLLM:
    def __init__(
        self,
        latency: float = 0.0,
        faults=(),
        timeout_delay: float = 1.0,
        retry_after: str = "0",
        dim: int = 8,
        always_invalid: set[str] | None = None,
    ):
        self.latency = latency
        self.faults = deque(faults)
        self.timeout_delay = timeout_delay
        self.retry_after = retry_after
        self.dim = dim
        self.always_invalid = always_invalid or set()  # message shas answered with broken JSON, every time
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------------------------------ lifecycle
    def start(self) -> str:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                status, headers, payload = owner.handle(self.path, body, dict(self.headers))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def __enter__(self) -> "LoopbackLLM":
        self.url = self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------ answers
    def handle(self, path: str, body: dict, headers: dict) -> tuple[int, dict, bytes]:
        with self.lock:
            fault = self.faults.popleft() if self.faults else "ok"
            self.requests.append({"path": path, "body": body, "fault": fault, "auth": headers.get("Authorization")})
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.timeout_delay if fault == "timeout" else self.latency)
            status, extra, payload = self._answer(path, body, fault)
        finally:
            with self.lock:
                self.in_flight -= 1
                self.statuses.append(status)
        return status, {"Content-Type": "application/json", **extra}, payload

    def _answer(self, path: str, body: dict, fault: str) -> tuple[int, dict, bytes]:
        if fault == "429":
            return 429, {"Retry-After": self.retry_after}, b'{"error": {"message": "rate limited"}}'
        if fault in ("500", "401", "400"):
            return int(fault), {}, json.dumps({"error": {"message": f"injected {fault}"}}).encode()
        if fault == "badjson":
            return 200, {}, b'{"choices": [ this is not json'
        if path.endswith("/embeddings"):
            return 200, {}, json.dumps(self.embeddings(body)).encode()
        return 200, {}, json.dumps(self.chat(body, fault)).encode()

    def chat(self, body: dict, fault: str) -> dict:
        sha = message_sha(body)
        profile = json.dumps({"summarization": f"S:{sha}", "reasoning": "loopback"})
        content = {
            "prose": f"Sure! Here is the profile you asked for:\n{profile}\nHope this helps.",
            "fence": f"```json\n{profile}\n```",
            "invalid": '{"summarization": 42}',
        }.get(fault, profile)
        if sha in self.always_invalid:
            content = '{"summarization": "cut off'
        return {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20},
        }

    def embeddings(self, body: dict) -> dict:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for i, text in enumerate(texts):
            seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
            vector = np.random.default_rng(seed).standard_normal(self.dim).round(6).tolist()
            data.append({"object": "embedding", "index": i, "embedding": vector})
        data.reverse()  # servers may answer out of order; the index says where each belongs
        return {"object": "list", "data": data, "model": body.get("model")}

    def chat_requests(self) -> list[dict]:
        with self.lock:
            return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")]


def main() -> None:
    """Serve from a separate process (the benchmark does, so the server does not share the client's GIL):
    prints the base URL, then serves until its standard input closes."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    server = LoopbackLLM(latency=args.latency)
    print(server.start(), flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()


def profile_args(url: str, *extra: str, key_env: str | None = "LOOP_KEY", concurrency: int = 4) -> list[str]:
    """`llmrec profile` of the tiny dataset's steam prompts through the OpenAI-compatible backend at ``url``."""
    args = ["profile", "--dataset", "tiny", "--prompt", "steam", "--backend", "openai", "--base-url", url]
    args += ["--model", "loop", "--concurrency", str(concurrency)]
    return args + (["--api-key-env", key_env] if key_env else []) + list(extra)


def profile_via_server(cli, workdir, url, *extra, key_env="LOOP_KEY"):
    """:func:`profile_args` through the in-process ``cli`` fixture."""
    return cli(*profile_args(url, *extra, key_env=key_env), workdir=workdir)
