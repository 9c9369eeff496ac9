"""Versioned prompt templates: ``prompts/<entity>/<name>/v<N>.toml``, each registered by sha256.

A template's id is ``<name>-<entity>@<N>`` (e.g. ``steam-item@1``); a prompt set ``<name>@<N>`` pairs the item and
user templates of one version and names the output folder ``profiles/<dataset>/<name>@<N>/``. Outputs are cached by
the template's sha256, so a template edited in place would silently mix old and new answers: ``prompts/registry.toml``
records the sha256 of every released template and a template that no longer matches it is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from llmrec_cli.errors import LLMRecError

ENTITIES = ("item", "user")
REGISTRY = "registry.toml"
PLACEHOLDERS = {"item": {"basic", "reviews"}, "user": {"items"}}
_ID = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._-]*)-(?P<entity>item|user)@(?P<version>\d+)$")
_SET_ID = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._-]*)(@(?P<version>\d+))?$")


def prompts_dir() -> Path:
    """The repository's ``prompts/`` folder (override with LLMREC_PROMPTS_DIR)."""
    env = os.environ.get("LLMREC_PROMPTS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "prompts"


@dataclass(frozen=True)
class Template:
    id: str
    entity: str
    name: str
    version: int
    path: Path
    sha256: str
    system: str
    layout: str
    schema: dict
    inputs: dict = field(default_factory=dict)
    max_input_tokens: int = 2048
    max_output_tokens: int = 512

    def render(self, **values: str) -> str:
        """The user message: the layout with its $placeholders filled (values are never re-parsed)."""
        return string.Template(self.layout).substitute(values)

    def messages(self, user_text: str) -> list[dict]:
        # RLMRec sends the instruction as the system message with every call (issue #4)
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user_text}]


@dataclass(frozen=True)
class PromptSet:
    id: str  # "<name>@<N>": the output folder name
    item: Template
    user: Template

    def template(self, entity: str) -> Template:
        return self.item if entity == "item" else self.user

    def describe(self) -> dict:
        return {t.id: {"path": str(t.path), "sha256": t.sha256} for t in (self.item, self.user)}


def registry(root: Path) -> dict:
    path = root / REGISTRY
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise LLMRecError(f"{path}: prompt registry not found; every prompts folder needs one") from None
    except tomllib.TOMLDecodeError as exc:
        raise LLMRecError(f"{path}: not valid TOML ({exc})") from None


def set_name_for(dataset: str, root: Path) -> str:
    """The prompt-set name of a dataset: its own, or the one [aliases] in the registry points it to."""
    return registry(root).get("aliases", {}).get(dataset, dataset)


def resolve(dataset: str, prompt: str | None = None, root: Path | None = None) -> PromptSet:
    """The prompt set for ``--prompt`` (``name`` or ``name@N``), else the dataset's latest version."""
    root = root or prompts_dir()
    match = _SET_ID.match(prompt or set_name_for(dataset, root))
    if not match:
        raise LLMRecError(f"--prompt {prompt}: expected NAME or NAME@VERSION, e.g. steam@1")
    name = match["name"]
    version = int(match["version"]) if match["version"] else latest_version(root, name, dataset)
    item = load_template(root, "item", name, version)
    user = load_template(root, "user", name, version)
    return PromptSet(f"{name}@{version}", item, user)


def versions(root: Path, entity: str, name: str) -> list[int]:
    folder = root / entity / name
    return sorted(int(p.stem[1:]) for p in folder.glob("v*.toml") if p.stem[1:].isdigit())


def latest_version(root: Path, name: str, dataset: str) -> int:
    common = set(versions(root, "item", name)) & set(versions(root, "user", name))
    if not common:
        known = (
            ", ".join(sorted(p.name for p in (root / "item").iterdir() if p.is_dir()))
            if (root / "item").is_dir()
            else "none"
        )
        raise LLMRecError(
            f"--dataset {dataset}: no prompt set '{name}' with both "
            f"item and user templates in {root} (known: {known}); "
            f"pass --prompt NAME@VERSION or add an alias for {dataset} to {root / REGISTRY}"
        )
    return max(common)


def load_template(root: Path, entity: str, name: str, version: int) -> Template:
    path = root / entity / name / f"v{version}.toml"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LLMRecError(
            f"{path}: template not found (prompt {name}@{version} needs item and user templates)"
        ) from None
    try:
        doc = tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LLMRecError(f"{path}: not valid TOML ({exc})") from None
    template = _template(doc, path, hashlib.sha256(raw).hexdigest())
    expected = f"{name}-{entity}@{version}"
    if template.id != expected:
        raise LLMRecError(f"{path}: id is {template.id!r} but its place says {expected!r}; make them agree")
    check_registered(root, template)
    return template


def _template(doc: dict, path: Path, sha: str) -> Template:
    for key in ("id", "entity", "system", "layout", "schema"):
        if key not in doc:
            raise LLMRecError(f"{path}: missing key '{key}' (a template needs id, entity, system, layout and [schema])")
    match = _ID.match(str(doc["id"]))
    if not match:
        raise LLMRecError(f"{path}: id {doc['id']!r} must look like NAME-item@N or NAME-user@N")
    if doc["entity"] != match["entity"]:
        raise LLMRecError(f"{path}: entity {doc['entity']!r} does not match the id {doc['id']!r}")
    _check_layout(doc["layout"], doc["entity"], path)
    _check_schema(doc["schema"], path)
    return Template(
        id=doc["id"],
        entity=doc["entity"],
        name=match["name"],
        version=int(match["version"]),
        path=path.resolve(),
        sha256=sha,
        system=doc["system"].strip(),
        layout=doc["layout"],
        schema=doc["schema"],
        inputs=dict(doc.get("inputs", {})),
        max_input_tokens=int(doc.get("max_input_tokens", 2048)),
        max_output_tokens=int(doc.get("max_output_tokens", 512)),
    )


def _check_layout(layout: str, entity: str, path: Path) -> None:
    used = {m.group("named") or m.group("braced") for m in string.Template.pattern.finditer(layout)} - {None}
    unknown = used - PLACEHOLDERS[entity]
    if unknown:
        raise LLMRecError(
            f"{path}: layout uses {sorted(unknown)}; "
            f"{entity} templates know ${', $'.join(sorted(PLACEHOLDERS[entity]))}"
        )


def _check_schema(schema: dict, path: Path) -> None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise LLMRecError(f"{path}: [schema] is not a valid JSON schema ({exc.message})") from None
    if "summarization" not in schema.get("required", []):
        raise LLMRecError(f"{path}: [schema] must require 'summarization' (the text that is embedded)")


def check_registered(root: Path, template: Template) -> None:
    """Refuse a template that is unregistered, or edited since it was registered."""
    entries = registry(root).get("templates", {})
    line = f'"{template.id}" = "{template.sha256}"'
    if template.id not in entries:
        raise LLMRecError(
            f"{template.path}: {template.id} is not registered; once the template is final add `{line}` under "
            f"[templates] in {root / REGISTRY}"
        )
    if entries[template.id] != template.sha256:
        bumped = f"v{template.version + 1}.toml"
        raise LLMRecError(
            f"{template.path}: edited after {template.id} was released (sha256 {template.sha256[:12]}, registered "
            f"{str(entries[template.id])[:12]}); a released template must not change, since profiles are cached by it: "
            f"restore it, and put your edit in {bumped} with id "
            f"{template.name}-{template.entity}@{template.version + 1}, "
            "then register that one"
        )
