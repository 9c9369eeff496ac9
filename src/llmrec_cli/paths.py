"""User-given names that become folders under the work directory (run ids, dataset names, output names).

A name is one path component made of letters, digits and ``._@+-``: never empty, never ``.``/``..``, never a
separator or an absolute path, so a name can only ever point inside the folder it is joined to.
"""

from __future__ import annotations

import re

from llmrec_cli.errors import LLMRecError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+=-]{0,127}")


def is_safe_name(value: object) -> bool:
    return isinstance(value, str) and _NAME.fullmatch(value) is not None and ".." not in value


def safe_name(value: str, option: str) -> str:
    """``value`` when it is a safe single folder name; a one-line error naming ``option`` otherwise."""
    if not is_safe_name(value):
        raise LLMRecError(
            f"{option} {value!r}: not a valid name; use letters, digits and . _ @ + = - (at most 128, "
            "starting with a letter or digit; no '/', '..' or absolute paths)"
        )
    return value


def name_part(text: str) -> str:
    """``text`` made fit to be part of a default name: '/', ':', spaces and other characters become '-', runs of
    dots one dot (a text that is already fit comes back unchanged)."""
    return re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._@+=-]+", "-", text))
