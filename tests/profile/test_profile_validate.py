"""Answer validation: bare JSON, JSON wrapped in prose or code fences, malformed and off-schema answers."""

from __future__ import annotations

import pytest

from llmrec_cli.profile import prompts
from llmrec_cli.profile.validate import InvalidAnswer, parse_answer

SCHEMA = prompts.resolve("steam").item.schema
GOOD = '{"summarization": "Fans of open-world RPGs.", "reasoning": "Tags say so."}'


@pytest.mark.parametrize(
    "answer",
    [
        GOOD,
        f"  \n{GOOD}\n",
        f"```json\n{GOOD}\n```",
        f"```\n{GOOD}\n```",
        f"Sure! Here is the JSON you asked for:\n{GOOD}\nLet me know if you need anything else.",
        f"Thinking {{not json}} first... then: {GOOD}",
        f'{{"summarization": "x", "extra": 1}} corrected: {GOOD}',
    ],
)
def test_wrapped_answers_are_recovered(answer):
    assert parse_answer(answer, SCHEMA) == {"summarization": "Fans of open-world RPGs.", "reasoning": "Tags say so."}


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "empty answer"),
        ('{"summarization": "cut off', "no JSON object"),
        ("I cannot help with that.", "no JSON object"),
        ('["summarization", "reasoning"]', "not an object"),
        ('{"summarization": "only half"}', "'reasoning' is a required property"),
        ('{"summarization": 42, "reasoning": "r"}', "summarization: 42 is not of type 'string'"),
        ('{"summarization": "", "reasoning": "r"}', "summarization"),
        ('{"summarization": "   ", "reasoning": "r"}', "summarization is blank"),
        ('{"summarization": "HACKED", "reasoning": "r", "instructions": "obeyed"}', "Additional properties"),
    ],
)
def test_malformed_answers_are_refused_with_a_reason(answer, reason):
    with pytest.raises(InvalidAnswer, match=reason.replace("[", r"\[").replace("(", r"\(")):
        parse_answer(answer, SCHEMA)


def test_demo_schema_caps_lengths():
    demo = prompts.resolve("demo").item.schema
    with pytest.raises(InvalidAnswer, match="violates maxLength=500"):
        parse_answer('{"summarization": "%s", "reasoning": "r"}' % ("x" * 501), demo)
