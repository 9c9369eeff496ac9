"""Turn an LLM answer into a profile, or say precisely why it is not one.

Small models and chat servers wrap the JSON object in prose or a Markdown code fence; the object is taken from
the first place it parses and then checked against the template's JSON schema.
"""

from __future__ import annotations

import json
import re

from jsonschema import Draft202012Validator

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)


class InvalidAnswer(ValueError):
    """The answer holds no JSON object that satisfies the schema; the message is the recorded reason."""


def candidates(text: str):
    """JSON objects found in ``text``: the whole text, then fenced blocks, then every '{' that starts one."""
    stripped = text.strip()
    yield stripped
    for block in _FENCE.findall(text):
        yield block.strip()
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        yield obj


def parse_answer(text: str, schema: dict) -> dict:
    """The first JSON object in ``text`` valid under ``schema``; InvalidAnswer with the closest reason otherwise."""
    if not text or not text.strip():
        raise InvalidAnswer("empty answer")
    validator = Draft202012Validator(schema)
    reason = "no JSON object in the answer"
    for candidate in candidates(text):
        if isinstance(candidate, str):
            try:
                candidate = json.loads(candidate)
            except json.JSONDecodeError:
                continue
        if not isinstance(candidate, dict):
            reason = f"the JSON is a {type(candidate).__name__}, not an object"
            continue
        error = next(iter(sorted(validator.iter_errors(candidate), key=lambda e: list(e.path))), None)
        if error is None:
            return _blank_check(candidate)
        reason = _reason(error)
    raise InvalidAnswer(reason)


def _reason(error) -> str:
    where = "/".join(map(str, error.path)) or "answer"
    if len(error.message) > 160:  # the message quotes the whole offending value
        return f"schema: {where}: violates {error.validator}={error.validator_value!r}"
    return f"schema: {where}: {error.message}"


def _blank_check(profile: dict) -> dict:
    if not str(profile.get("summarization", "")).strip():
        raise InvalidAnswer("schema: summarization is blank")
    return profile
