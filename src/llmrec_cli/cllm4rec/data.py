"""Documents and prompts of CLLM4Rec (docs/methods/cllm4rec.md §3, §5, §6), built from the training split only.

- Collaborative document of user i: prompt ``user_i has interacted with`` + main ``item_a item_b ...`` (all training
  items; ascending ids as in the official pretraining code, or, given a generator, a fresh random permutation per
  epoch: the paper's stochastic item reordering).
- Content documents: ``user_i wrote the following review for item_j:`` + `` <review>`` for the reviews of training
  pairs (the official preprocessing's wording), or, when the dataset has no reviews, the item text documents of the
  official preprocessing: ``The title of item_j is:`` + `` <title>``, ``The tags of item_j are:`` + `` a, b, c``.
- Recommendation prompt (finetuning, docs/methods/cllm4rec.md §5.1): mask max(1, int(0.2 n)) training items at
  random, shuffle the others: ``user_i has interacted with item_a item_b, user_i will interact with``; at prediction
  time (docs/methods/cllm4rec.md §6, predict.py) all training items in a seeded random order. Validation and test
  items never enter any document.

Token ids are assembled from hard-prompt fragments encoded once; they equal ``IdTokenizer.encode`` of the full text
(tests check it). Sequences longer than ``max_len`` lose the end of their main text (docs/methods/cllm4rec.md §3.4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import torch

from llmrec_cli import artifacts
from llmrec_cli.cllm4rec.tokenizer import IdTokenizer, pad_right
from llmrec_cli.data.dataset import Dataset

MASK_RATIO = 0.2
ITEM_TEXT_SKIP = ("item_id", "raw_id")


def items_by_user(dataset: Dataset, split: str = "train") -> list[np.ndarray]:
    """Each user's item ids in ``split``, ascending (empty arrays for users without any)."""
    users, items = dataset.pairs(split)
    order = np.lexsort((items, users))
    users, items = users[order], items[order]
    bounds = np.searchsorted(users, np.arange(dataset.n_users + 1))
    return [items[bounds[u] : bounds[u + 1]] for u in range(dataset.n_users)]


class Prompts:
    """The hard-prompt fragments, tokenised once, and the soft+hard prompts built from them."""

    def __init__(self, tokenizer: IdTokenizer, max_len: int):
        self.tok, self.max_len = tokenizer, max_len
        self.has_interacted = tokenizer.encode_words(" has interacted with")
        self.will_interact = tokenizer.encode_words(" will interact with")
        self.comma = tokenizer.encode_words(",")

    def collaborative(self, user: int, items: np.ndarray) -> tuple[list[int], list[int]]:
        """(prompt, main) of the collaborative document: ``user_i has interacted with`` | ``item_a item_b ...``."""
        return [self.tok.user_token(user), *self.has_interacted], self.tok.item_tokens(items)

    def recommendation(self, user: int, visible_items: np.ndarray) -> list[int]:
        """``user_i has interacted with <items>, user_i will interact with``, cut at max_len
        (suffix lost, as in code)."""
        user_token = self.tok.user_token(user)
        ids = [
            user_token,
            *self.has_interacted,
            *self.tok.item_tokens(visible_items),
            *self.comma,
            user_token,
            *self.will_interact,
        ]
        return ids[: self.max_len]


# ------------------------------------------------------------------------------------------- collaborative docs
@dataclass
class Documents:
    """Prompt + main token sequences; the loss covers the main text only."""

    prompts: list[list[int]]
    mains: list[list[int]]

    def __len__(self) -> int:
        return len(self.prompts)

    def lengths(self) -> np.ndarray:
        return np.array([len(p) + len(m) for p, m in zip(self.prompts, self.mains)])


def collaborative_documents(
    prompts: Prompts, train_items: list[np.ndarray], rng: np.random.Generator | None
) -> Documents:
    """One document per user with >= 1 training item; items permuted by ``rng`` when given (paper), else ascending."""
    docs = Documents([], [])
    for user, items in enumerate(train_items):
        if items.size == 0:
            continue
        prompt, main = prompts.collaborative(user, rng.permutation(items) if rng is not None else items)
        docs.prompts.append(prompt)
        docs.mains.append(main[: max(0, prompts.max_len - len(prompt))])
    return docs


# ------------------------------------------------------------------------------------------- content docs
@dataclass
class ContentCorpus:
    docs: Documents
    source: str  # "reviews" or "item_text:<columns>"
    covers_users: bool  # whether user content embeddings are learned from text (reviews mention user_i)


def content_corpus(dataset: Dataset, tokenizer: IdTokenizer, max_len: int) -> ContentCorpus:
    """Reviews of training pairs when the dataset has reviews.parquet, else the item text documents."""
    reviews_path = dataset.folder / "reviews.parquet"
    if reviews_path.is_file():
        pairs = _review_pairs(dataset, reviews_path)
        if pairs.height:
            prompts = [
                f"user_{u} wrote the following review for item_{i}:" for u, i in zip(pairs["user_id"], pairs["item_id"])
            ]
            return ContentCorpus(
                _tokenised(tokenizer, prompts, [f" {t}" for t in pairs["text"]], max_len), "reviews", True
            )
    prompts, mains, columns = _item_text_documents(dataset.folder / "items.parquet")
    if not prompts:
        return ContentCorpus(Documents([], []), "none", False)
    return ContentCorpus(_tokenised(tokenizer, prompts, mains, max_len), "item_text:" + ",".join(columns), False)


def _review_pairs(dataset: Dataset, path) -> pl.DataFrame:
    """Reviews of training pairs only: a review of a validation/test pair would reveal that interaction."""
    reviews = artifacts.read_parquet(path, artifacts.REVIEWS, columns=None).select("user_id", "item_id", "text")
    train = dataset.splits["train"].select("user_id", "item_id")
    reviews = reviews.filter(pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != ""))
    return reviews.join(train, on=["user_id", "item_id"], how="semi").sort("user_id", "item_id")


def _item_text_documents(path) -> tuple[list[str], list[str], list[str]]:
    items = artifacts.read_parquet(path, artifacts.ITEMS).sort("item_id")
    columns = [c for c, t in items.schema.items() if c not in ITEM_TEXT_SKIP and _is_text(t)]
    prompts, mains = [], []
    for column in columns:
        is_list = isinstance(items.schema[column], (pl.List, pl.Array))
        label = column.replace("_", " ")
        for item, value in zip(items["item_id"], items[column]):
            text = ", ".join(v for v in value if v) if is_list and value is not None else value
            if text and text.strip():
                prompts.append(f"The {label} of item_{item} {'are' if is_list else 'is'}:")
                mains.append(f" {text.strip()}")
    return prompts, mains, columns


def _is_text(dtype) -> bool:
    if isinstance(dtype, (pl.List, pl.Array)):
        return dtype.inner in (pl.String, pl.Categorical)
    return dtype in (pl.String, pl.Categorical)


def _tokenised(tokenizer: IdTokenizer, prompts: list[str], mains: list[str], max_len: int) -> Documents:
    docs = Documents([], [])
    for prompt_text, main_text in zip(prompts, mains):
        prompt = tokenizer.encode(prompt_text)
        docs.prompts.append(prompt)
        # Main text stays words: a review that spells "item_12" is not an item token here.
        docs.mains.append(tokenizer.encode_words(main_text.rstrip())[: max(0, max_len - len(prompt))])
    return docs


# ------------------------------------------------------------------------------------------- recommendation prompts
def masked_prompts(
    prompts: Prompts, users: np.ndarray, train_items: list[np.ndarray], rng: np.random.Generator, target: str = "all"
) -> tuple[list[list[int]], list[np.ndarray]]:
    """Finetuning inputs (docs/methods/cllm4rec.md §5.1-§5.2): prompt from the visible items, target = all training
    items or the masked ones."""
    sequences, targets = [], []
    for user in users:
        items = train_items[user]
        order = rng.permutation(items.size)
        n_masked = max(1, int(MASK_RATIO * items.size))
        masked, visible = items[order[:n_masked]], items[order[n_masked:]]
        sequences.append(prompts.recommendation(int(user), visible))
        targets.append(items if target == "all" else masked)
    return sequences, targets


# ------------------------------------------------------------------------------------------- batching
def length_bucketed_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator, pool: int = 50
) -> list[np.ndarray]:
    """Random batches of similar lengths (less padding): shuffle, sort within pools of ``pool`` batches,
    shuffle batches."""
    order = rng.permutation(lengths.size)
    chunk = batch_size * pool
    batches = []
    for start in range(0, order.size, chunk):
        block = order[start : start + chunk]
        block = block[np.argsort(lengths[block], kind="stable")]
        batches.extend(block[i : i + batch_size] for i in range(0, block.size, batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


@dataclass
class DocumentBatch:
    ids: torch.Tensor  # (B, T) prompt + main, right-padded with 0
    mask: torch.Tensor  # (B, T) attention mask
    targets: torch.Tensor  # (B, T) bool: positions whose token is scored (predicted from position t - 1)
    prompt_mask: torch.Tensor  # (B, T) bool: prompt positions

    def to(self, device) -> "DocumentBatch":
        return DocumentBatch(
            *(t.to(device, non_blocking=True) for t in (self.ids, self.mask, self.targets, self.prompt_mask))
        )


def collate_documents(docs: Documents, index: np.ndarray, score_first: bool = False) -> DocumentBatch:
    """Concatenate prompt and main; score main tokens from the second on (code), or from the first (``score_first``).

    The official code runs the right-padded prompt batch, then the main text on its cached keys/values; one causal
    pass over prompt + main per sequence computes the same thing without the padding gap between the two (so the
    main text's positions follow its own prompt directly).
    """
    sequences = [docs.prompts[i] + docs.mains[i] for i in index]
    ids, mask = pad_right(sequences)
    targets = torch.zeros_like(ids, dtype=torch.bool)
    prompt_mask = torch.zeros_like(ids, dtype=torch.bool)
    for row, i in enumerate(index):
        start, end = len(docs.prompts[i]), len(sequences[row])
        targets[row, start + (0 if score_first else 1) : end] = True
        prompt_mask[row, :start] = True
    return DocumentBatch(ids, mask, targets, prompt_mask)


def multi_hot(targets: list[np.ndarray], n_items: int, device) -> torch.Tensor:
    rows = np.repeat(np.arange(len(targets)), [t.size for t in targets])
    cols = np.concatenate(targets) if targets else np.empty(0, dtype=np.int64)
    out = torch.zeros((len(targets), n_items), device=device)
    out[torch.from_numpy(rows).to(device), torch.from_numpy(cols.astype(np.int64)).to(device)] = 1.0
    return out
