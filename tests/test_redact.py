"""llmrec_cli.redact: the one scrubber for quoted server text, recorded configs and messages (issue 17)."""

from __future__ import annotations

import base64

from llmrec_cli import artifacts
from llmrec_cli.errors import LLMRecError
from llmrec_cli.redact import redact, redact_all, remember, remember_url


def test_tokens_headers_userinfo_and_key_parameters_are_masked():
    cases = {
        'HTTP 400: {"Authorization": "Bearer sk-live-abc"}': 'HTTP 400: {"Authorization": "Bearer ***"}',
        "authorization: Basic dXNlcjpwdw==": "authorization: Basic ***",
        '{"x-api-key": "k-123", "api-key": "k-456"}': '{"x-api-key": "***", "api-key": "***"}',
        "https://bob:pw@host:8/v1?api_key=a1&model=m&key=b2": "https://***@host:8/v1?api_key=***&model=m&key=***",
        "http://TOKEN@host/v1": "http://***@host/v1",
        "no secret in users, items or keys here": "no secret in users, items or keys here",
    }
    for text, expected in cases.items():
        assert redact(text) == expected, text
    assert redact(None) is None and redact(3) == 3


def test_remembered_keys_are_masked_even_alone_and_short_values_are_not_remembered():
    remember("sk-bare-remembered-0001")
    remember("user")  # too short: would blank ordinary words
    assert redact("you sent sk-bare-remembered-0001 as the user") == "you sent *** as the user"


def test_url_credentials_are_remembered_with_the_basic_header_they_become():
    remember_url("https://alice:pass-word-7777@h/v1?token=tok-tok-9999")
    basic = base64.b64encode(b"alice:pass-word-7777").decode()
    assert redact(f"echo pass-word-7777 {basic} tok-tok-9999") == "echo *** *** ***"


def test_configs_are_recorded_and_hashed_without_credentials():
    config = {"backend": {"base_url": "http://u:secret-123456@h/v1?key=k-987654", "model": "m"}, "list": ["x", 1]}
    assert redact_all(config) == {"backend": {"base_url": "http://***@h/v1?key=***", "model": "m"}, "list": ["x", 1]}
    manifest = artifacts.Manifest("s", config, {}, []).to_dict()
    assert manifest["config"]["backend"]["base_url"] == "http://***@h/v1?key=***"
    assert "secret-123456" not in str(manifest) and "k-987654" not in str(manifest)
    other = {"backend": {"base_url": "http://u:another-pass@h/v1?key=other", "model": "m"}, "list": ["x", 1]}
    assert manifest["config_sha256"] == artifacts.config_hash(other) == artifacts.config_hash(config)
    plain = {"a": 1, "b": "http://h/v1"}  # nothing to scrub: the hash is what it always was
    import hashlib
    import json

    assert (
        artifacts.config_hash(plain)
        == hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()
    )


def test_every_user_error_is_scrubbed():
    assert (
        str(LLMRecError("--base-url https://u:p4ss@h/v1?api_key=zz: bad"))
        == "--base-url https://***@h/v1?api_key=***: bad"
    )
