"""The registry: backbones found by their configs, alignments by their modules, nothing listed twice elsewhere."""

import shutil

import pytest

from llmrec_cli.errors import LLMRecError
from llmrec_cli.rlmrec import config, registry
from llmrec_cli.rlmrec.alignments.base import Alignment


def test_backbones_in_table_1_order_with_the_variants_their_configs_define():
    specs = registry.backbones()
    assert list(specs)[:6] == ["gccf", "lightgcn", "sgl", "simgcl", "dccf", "autocf"]
    assert specs["lightgcn"].title == "LightGCN" and specs["lightgcn"].variants == ("none", "con", "gen", "kar")
    assert specs["gccf"].variants == ("none", "con", "gen")
    assert specs["lightgcn"].load().__name__ == "LightGCN"


def test_alignments_are_the_modules_of_the_package():
    assert registry.alignment_names() == ("none", "con", "gen", "kar")
    for name in registry.alignment_names():
        strategy = registry.alignment(name)
        assert issubclass(strategy, Alignment) and strategy.name == name
    assert (
        registry.alignment("con").weight_key == "kd_weight" and registry.alignment("gen").weight_key == "recon_weight"
    )
    assert registry.alignment("none").needs_embeddings is False


def test_unknown_names_list_the_choices():
    with pytest.raises(LLMRecError, match="--backbone 'gcn': unknown; choose one of gccf, lightgcn"):
        registry.backbone("gcn")
    with pytest.raises(LLMRecError, match="--align 'cons': unknown; choose one of none, con, gen, kar"):
        registry.alignment("cons")
    with pytest.raises(LLMRecError, match=r"has no \[kar\] section.*it has: none, con, gen"):
        config.resolve("gccf", "kar", "demo")


def test_a_new_backbone_is_its_config_and_its_module(tmp_path, monkeypatch):
    """A config file is all the registry needs to list a backbone (its module provides the class)."""
    shutil.copytree(registry.configs_dir(), tmp_path / "configs")
    (tmp_path / "configs" / "mf2.toml").write_text(
        '[backbone]\ntitle = "MF again"\norder = 7\n[base]\nreg_weight = 1e-6\n'
    )
    monkeypatch.setenv("LLMREC_CONFIGS_DIR", str(tmp_path / "configs"))
    spec = registry.backbone("mf2")
    assert spec.title == "MF again" and spec.variants == ("none",) and list(registry.backbones())[6] == "mf2"
    assert config.resolve("mf2", "none", "demo")["reg_weight"] == 1e-6
