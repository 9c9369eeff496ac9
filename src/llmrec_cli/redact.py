"""Keep credentials inside the process: the one scrubber for anything quoted or recorded.

A server may echo the request's headers in an error body, and a user may type ``https://user:secret@host/v1`` or
``...?api_key=...`` into ``--base-url``. Everything that quotes such text (error messages, ``failures.parquet``, the
profile store) or records a config (manifests) passes through :func:`redact`; the request itself keeps using the
credentials. Keys read by the backends are registered with :func:`remember`, so that a key echoed on its own, without
a ``Bearer`` or header name in front of it, is scrubbed as well.
"""

from __future__ import annotations

import base64
import re
import threading
from typing import Any
from urllib.parse import unquote, urlsplit

MASK = "***"
MIN_SECRET = 8  # shorter values are not remembered (they would blank ordinary words); patterns still catch them

_known: set[str] = set()
_lock = threading.Lock()

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s\"'<>]*@")
_QUERY = re.compile(
    r"(?i)([?&;](?:api[-_]?key|key|token|access[-_]?token|auth|password|secret|sig)=)"
    r"[^&#\s\"'<>]*?(?=[:;,.)]*(?:[&#\s\"'<>]|$))"
)  # a value, less the punctuation quoting it ends with
_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s\"'<>,;]+")
_HEADER = re.compile(
    r"(?i)((?:authorization|proxy-authorization|x-api-key|api[-_]key)[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?:bearer|basic|token|digest|apikey|key)\s+)?)[^\s\"'<>,;&}]+?(?=[:.)]*(?:[\s\"'<>,;&}]|$))"
)


def remember(value: str | None) -> None:
    """Register a credential (an API key, a password typed into a URL) so that :func:`redact` removes it."""
    if value and len(value) >= MIN_SECRET:
        with _lock:
            _known.add(value)


def remember_url(url: str | None) -> None:
    """Register the credentials typed into a URL: the password (or a token given as the user) and key parameters."""
    if not url:
        return
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return
    values = [password if password is not None else user]  # a lone user part is a token (https://TOKEN@host)
    if user is not None and password is not None:  # sent as "Authorization: Basic <base64(user:password)>"
        for pair in {f"{user}:{password}", f"{unquote(user)}:{unquote(password)}"}:
            values.append(base64.b64encode(pair.encode()).decode())
    values += [url[m.end(1) : m.end()] for m in _QUERY.finditer(url)]
    for value in values:
        if value:
            remember(value)
            remember(unquote(value))


def redact(text: Any) -> Any:
    """``text`` with every remembered secret, ``Bearer``/``Basic`` token, Authorization/api-key header value, URL
    userinfo and key-like query parameter replaced by ``***``. Non-strings are returned unchanged."""
    if not isinstance(text, str) or not text:
        return text
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    text = _QUERY.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _HEADER.sub(lambda m: f"{m.group(1)}{MASK}", text)


def redact_all(value: Any) -> Any:
    """:func:`redact` applied to every string in nested dicts, lists and tuples (a config, before it is recorded)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_all(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_all(v) for v in value]
    return value
