"""Prompt templates: every shipped one loads and renders; an edit without a version bump is refused."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from llmrec_cli.errors import LLMRecError
from llmrec_cli.profile import prompts

SHIPPED = ["amazon-book", "yelp", "steam", "demo", "beauty"]


@pytest.mark.parametrize("dataset", SHIPPED + ["steam-text", "all-beauty"])
def test_every_shipped_prompt_set_loads_registered_and_renders(dataset):
    pset = prompts.resolve(dataset)
    assert pset.id.endswith("@1")
    for entity, template in (("item", pset.item), ("user", pset.user)):
        assert template.entity == entity and template.id == f"{pset.id.split('@')[0]}-{entity}@1"
        assert "summarization" in template.schema["required"] and "JSON" in template.system
        text = (
            template.render(basic='{"title": "X"}', reviews='"r"') if entity == "item" else template.render(items="{}")
        )
        messages = template.messages(text)
        assert [m["role"] for m in messages] == ["system", "user"] and messages[1]["content"] == text


def test_aliases_point_to_the_paper_sets():
    assert prompts.resolve("steam-text").id == prompts.resolve("steam").id == "steam@1"


@pytest.fixture
def prompt_copy(tmp_path, monkeypatch):
    root = tmp_path / "prompts"
    shutil.copytree(prompts.prompts_dir(), root)
    monkeypatch.setenv("LLMREC_PROMPTS_DIR", str(root))
    return root


def test_template_edited_without_version_bump_is_refused(prompt_copy):
    path = prompt_copy / "item" / "steam" / "v1.toml"
    path.write_text(path.read_text().replace("no longer than 200 words", "no longer than 150 words", 1))
    with pytest.raises(LLMRecError, match=r"edited after steam-item@1 was released.*v2\.toml.*steam-item@2"):
        prompts.resolve("steam")


def test_cli_refuses_an_edited_template_with_one_line_and_exit_2(prompt_copy, tiny, cli):
    path = prompt_copy / "user" / "steam" / "v1.toml"
    path.write_text(path.read_text() + "\n# a harmless-looking comment is still an edit\n")
    result = cli("profile", "--dataset", "tiny", "--prompt", "steam@1", "--dry-run", workdir=tiny)
    assert result.code == 2
    assert "edited after steam-user@1 was released" in result.err and "Traceback" not in result.err


def test_a_new_version_must_be_registered_then_becomes_the_default(prompt_copy):
    for entity in ("item", "user"):
        old = (prompt_copy / entity / "steam" / "v1.toml").read_text()
        (prompt_copy / entity / "steam" / "v2.toml").write_text(old.replace(f"steam-{entity}@1", f"steam-{entity}@2"))
    with pytest.raises(LLMRecError, match=r'steam-item@2 is not registered; .*add `"steam-item@2" = "[0-9a-f]{64}"`'):
        prompts.resolve("steam")
    registry = prompt_copy / "registry.toml"
    for entity in ("item", "user"):
        sha = hashlib.sha256((prompt_copy / entity / "steam" / "v2.toml").read_bytes()).hexdigest()
        registry.write_text(registry.read_text() + f'"steam-{entity}@2" = "{sha}"\n')
    assert prompts.resolve("steam").id == "steam@2"
    assert prompts.resolve("steam", "steam@1").id == "steam@1"  # old versions stay usable


def test_id_must_match_its_place(prompt_copy):
    path = prompt_copy / "item" / "yelp" / "v1.toml"
    path.write_text(path.read_text().replace('id = "yelp-item@1"', 'id = "yelp-item@3"'))
    with pytest.raises(LLMRecError, match="its place says 'yelp-item@1'"):
        prompts.resolve("yelp")


def test_unknown_placeholder_and_bad_schema_are_refused(prompt_copy):
    path = prompt_copy / "item" / "demo" / "v1.toml"
    original = path.read_text()
    path.write_text(original.replace("$basic", "$basic $price"))
    with pytest.raises(LLMRecError, match=r"layout uses \['price'\]"):
        prompts.resolve("demo")
    path.write_text(original.replace('required = ["summarization", "reasoning"]', 'required = ["reasoning"]'))
    with pytest.raises(LLMRecError, match="must require 'summarization'"):
        prompts.resolve("demo")


def test_unknown_prompt_set_names_the_fix(prompt_copy):
    with pytest.raises(LLMRecError, match="no prompt set 'nosuch'.*--prompt NAME@VERSION"):
        prompts.resolve("nosuch")


def test_values_are_substituted_once_never_reparsed():
    template = prompts.resolve("demo").item
    sneaky = json.dumps({"name": "$basic ${basic} {basic}"})
    assert template.render(basic=sneaky).endswith(sneaky)
