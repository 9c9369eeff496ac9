"""What each profile prompt says about its entity (docs/methods/rlmrec.md §2.3), within a tiktoken input budget.

Items: the template's basic fields (title, description or attributes) and a seeded sample of reviews.
Users: a seeded sample of the user's TRAINING items only, each with its title, its item profile's summarization
and the user's own review of it, so validation and test interactions never reach a prompt. Reviews of items are
also taken from training interactions only. Over budget, reviews go first, then descriptions and whole items, and
the title last.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from llmrec_cli import artifacts
from llmrec_cli.data.dataset import Dataset
from llmrec_cli.profile import tokens
from llmrec_cli.profile.prompts import Template

NONE = "None"  # how RLMRec's prompts give a missing value
_ITEM_STREAM, _USER_STREAM = 1, 2  # separate seeded streams, so --limit never changes another entity's sample


@dataclass(frozen=True)
class ProfileInput:
    entity: str
    entity_id: int
    text: str  # the user message
    tokens: int  # system + user message, cl100k_base
    trimmed: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass
class Corpus:
    """A prepared dataset's text: item columns, training pairs and (when the source has them) reviews."""

    name: str
    items: pl.DataFrame
    n_users: int
    train: pl.DataFrame
    reviews: pl.DataFrame | None
    files: list[Path]

    @classmethod
    def load(cls, workdir: Path, name: str) -> "Corpus":
        ds = Dataset.load(workdir, name)
        items = artifacts.read_parquet(ds.folder / "items.parquet", artifacts.ITEMS).sort("item_id")
        files = [ds.folder / "items.parquet", ds.folder / "users.parquet", ds.folder / "train.parquet"]
        reviews = None
        if (ds.folder / "reviews.parquet").is_file():
            reviews = artifacts.read_parquet(
                ds.folder / "reviews.parquet", artifacts.REVIEWS, ["user_id", "item_id", "text"]
            )
            # training interactions only: a validation/test review must not shape any profile
            reviews = reviews.join(
                ds.splits["train"].select("user_id", "item_id"), on=["user_id", "item_id"], how="semi"
            )
            reviews = reviews.filter(pl.col("text").str.strip_chars().str.len_chars() > 0)
            files.append(ds.folder / "reviews.parquet")
        return cls(name, items, ds.n_users, ds.splits["train"].select("user_id", "item_id"), reviews, files)

    @property
    def n_items(self) -> int:
        return self.items.height


def _rng(seed: int, stream: int, entity_id: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, entity_id])


def _sample(values: list, k: int, rng: np.random.Generator) -> list:
    """At most k of ``values``, uniformly, in their original order."""
    if len(values) <= k:
        return list(values)
    keep = np.sort(rng.choice(len(values), size=k, replace=False))
    return [values[i] for i in keep]


def format_value(value, max_list: int | None = None) -> str:
    if value is None:
        return NONE
    if isinstance(value, (list, tuple)):
        parts = [str(v).strip() for v in value if v is not None and str(v).strip()]
        return ", ".join(parts[:max_list] if max_list else parts) or NONE
    text = str(value).strip()
    return text or NONE


def _dumps(value) -> str:
    # json.dumps quotes and escapes: a review cannot close its string or the list it sits in
    return json.dumps(value, ensure_ascii=False)


class _Budget:
    def __init__(self, template: Template, budget: int | None):
        self.limit = budget or template.max_input_tokens
        self.system_tokens = tokens.count(template.system)

    def measure(self, text: str) -> int:
        return self.system_tokens + tokens.count(text)


# ------------------------------------------------------------------------------------------------------ items
def item_inputs(
    corpus: Corpus, template: Template, ids: list[int], seed: int, budget: int | None = None
) -> list[ProfileInput]:
    cfg = template.inputs
    fields: dict[str, list[str]] = cfg.get("fields", {"title": ["title"]})
    rows = corpus.items.filter(pl.col("item_id").is_in(ids)).to_dicts() if ids else []
    reviews = _reviews_by(corpus.reviews, "item_id") if cfg.get("reviews", 0) else {}
    meter = _Budget(template, budget)
    out = []
    for row in rows:
        item = int(row["item_id"])
        basic = {key: format_value(_first_present(row, cols), cfg.get("max_list")) for key, cols in fields.items()}
        texts = [tokens.first_words(t, cfg.get("review_words", 200)) for t in reviews.get(item, [])]
        sample = _sample(texts, int(cfg.get("reviews", 0)), _rng(seed, _ITEM_STREAM, item))
        out.append(_fit_item(template, meter, item, basic, sample))
    return out


def _first_present(row: dict, columns: list[str]):
    for col in columns:
        value = row.get(col)
        if value is not None and value != [] and str(value).strip() != "":
            return value
    return None


def _reviews_by(reviews: pl.DataFrame | None, key: str) -> dict[int, list]:
    if reviews is None:
        return {}
    grouped = reviews.sort(["user_id", "item_id"]).group_by(key, maintain_order=True).agg("text")
    return dict(zip(grouped[key].to_list(), grouped["text"].to_list()))


def _render_item(template: Template, basic: dict, reviews: list[str]) -> str:
    return template.render(basic=_dumps(basic), reviews="\n".join(_dumps(r) for r in reviews))


def _fit_item(template: Template, meter: _Budget, item: int, basic: dict, reviews: list[str]) -> ProfileInput:
    text = _render_item(template, basic, reviews)
    used, trimmed = meter.measure(text), False
    title_key = next(iter(basic))
    while used > meter.limit and reviews:
        reviews = reviews[:-1]
        text, trimmed = _render_item(template, basic, reviews), True
        used = meter.measure(text)
    while used > meter.limit and _halve_longest(basic, exclude=title_key):
        text, trimmed = _render_item(template, basic, reviews), True
        used = meter.measure(text)
    if used > meter.limit:
        keep = max(1, tokens.count(basic[title_key]) - (used - meter.limit))
        basic[title_key] = tokens.truncate(basic[title_key], keep)
        text, trimmed = _render_item(template, basic, reviews), True
        used = meter.measure(text)
    return ProfileInput("item", item, text, used, trimmed)


def _halve_longest(values: dict, exclude: str, floor: int = 8) -> bool:
    """Cut the longest value (other than ``exclude``) to half its tokens; False when none is worth cutting."""
    sizes = {k: tokens.count(v) for k, v in values.items() if k != exclude}
    if not sizes:
        return False
    key = max(sizes, key=sizes.get)
    if sizes[key] <= floor:
        return False
    values[key] = tokens.truncate(values[key], sizes[key] // 2)
    return True


# ------------------------------------------------------------------------------------------------------ users
def user_inputs(
    corpus: Corpus,
    template: Template,
    ids: list[int],
    item_summaries: dict[int, str],
    seed: int,
    budget: int | None = None,
) -> list[ProfileInput]:
    cfg = template.inputs
    keys = cfg.get("keys", ["title", "description", "review"])
    title_cols = cfg.get("title", ["title"])
    titles = {int(r["item_id"]): format_value(_first_present(r, title_cols)) for r in corpus.items.to_dicts()}
    wanted = set(ids)
    history = corpus.train.filter(pl.col("user_id").is_in(list(wanted))).sort(["user_id", "item_id"])
    items_of = dict(zip(*history.group_by("user_id", maintain_order=True).agg("item_id").get_columns()))
    reviews = _user_reviews(corpus.reviews, wanted) if "review" in keys else {}
    meter = _Budget(template, budget)
    out = []
    for user in sorted(wanted):
        sample = _sample(list(items_of.get(user, [])), int(cfg.get("max_items", 10)), _rng(seed, _USER_STREAM, user))
        entries = [
            _entry(keys, cfg, titles.get(i, NONE), item_summaries.get(i), reviews.get((user, i))) for i in sample
        ]
        out.append(_fit_user(template, meter, user, entries))
    return out


def _user_reviews(reviews: pl.DataFrame | None, users: set[int]) -> dict[tuple[int, int], str]:
    if reviews is None:
        return {}
    mine = reviews.filter(pl.col("user_id").is_in(list(users)))
    return {(u, i): t for u, i, t in mine.iter_rows()}


def _entry(keys: list[str], cfg: dict, title: str, summary: str | None, review: str | None) -> dict:
    description = summary or NONE
    if summary and cfg.get("description_words"):
        description = tokens.first_words(summary, cfg["description_words"])
    values = {
        "title": title,
        "description": description,
        "review": tokens.first_words(review, cfg.get("review_words", 200)) if review else NONE,
    }
    return {k: values[k] for k in keys}


def _render_user(template: Template, entries: list[dict]) -> str:
    return template.render(items="\n".join(_dumps(e) for e in entries))


def _fit_user(template: Template, meter: _Budget, user: int, entries: list[dict]) -> ProfileInput:
    text = _render_user(template, entries)
    used, trimmed = meter.measure(text), False
    for key in ("review", "description"):
        while used > meter.limit and _drop_longest(entries, key):
            text, trimmed = _render_user(template, entries), True
            used = meter.measure(text)
    while used > meter.limit and len(entries) > 1:
        entries = entries[:-1]
        text, trimmed = _render_user(template, entries), True
        used = meter.measure(text)
    if used > meter.limit and entries:
        keep = max(1, tokens.count(entries[0]["title"]) - (used - meter.limit))
        entries[0]["title"] = tokens.truncate(entries[0]["title"], keep)
        text, trimmed = _render_user(template, entries), True
        used = meter.measure(text)
    return ProfileInput("user", user, text, used, trimmed)


def _drop_longest(entries: list[dict], key: str) -> bool:
    present = [e for e in entries if e.get(key, NONE) != NONE]
    if not present:
        return False
    longest = max(present, key=lambda e: len(e[key]))
    longest[key] = NONE
    return True
