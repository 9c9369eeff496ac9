"""prepare end to end on a raw Amazon-format dump: dedupe, rating >= 3, an iterative 3-core and a 3:1:1 per-user split,
with every count worked out by hand below.

The data: a 3-core of 6 users x 8 items (32 rows) plus rows each filter must remove.

    core  U1: I1 I2 I3 I4 I5 I6 I7 I8 (8)   U2: I1..I6 (6)   U3: I1..I5 (5)   U4: I1..I4 (4)
          U5: I1 I2 I3 I6 I7 I8 (6)          U6: I1 I7 I8 (3)
          item users: I1 6, I2 5, I3 5, I4 4, I5 3 (U1 U2 U3), I6 3 (U1 U2 U5), I7 3 (U1 U5 U6), I8 3 (U1 U5 U6)
    dupes U3-I1 again later with rating 1 (dedupe keeps the earlier, rated 4, of the core);
          U4-I5 twice: rated 2 at t=10 and 5 at t=9001 -> dedupe keeps t=10, then the rating filter drops it
    low   U1-I9 1.0, U2-I7 2.0, U10-I1 2.0, U10-I2 1.0, U10-I3 2.5 (ratings of exactly 3 in the core stay)
    chain U7: I1 I2 I9   U8: I9 I10   U9: I9 I1 I3

    read      48 rows = 32 + 1 + 2 + 5 + 8; 10 users (U1..U10), 10 items (I1..I10)
    dedupe    -2 -> 46 (the later U3-I1 and the later U4-I5)
    rating    -6 -> 40 (the five low rows and U4-I5 rated 2); U10 is gone: 9 users; I9, I10 remain: 10 items
    3-core    iteration 1, users: U8 has 2 -> drop (2 rows); items: I9 now has U7 U9 = 2 -> drop (2 rows), I10 is gone
              iteration 2, users: U7 has I1 I2 = 2, U9 has I1 I3 = 2 -> drop both (4 rows); items all >= 3
              iteration 3 removes nothing: -8 -> 32 rows, 6 users, 8 items (a single pass would have kept U7 and U9)
    split 3:1:1, per user n: test = valid = round(0.2 n) (at most n - 1 together), train = the rest
              U1 n=8: 1.6 -> 2, 2, train 4    U2 n=6: 1.2 -> 1, 1, train 4    U3 n=5: 1, 1, train 3
              U4 n=4: 0.8 -> 1, 1, train 2    U5 n=6: 1, 1, train 4           U6 n=3: 0.6 -> 1, 1, train 1
              train 18, valid 7, test 7
    reviews   U6's three rows have blank text and no summary: 32 - 3 = 29
"""

import gzip
import json

import polars as pl

from llmrec_cli import artifacts
from llmrec_cli.data import prepare

CORE = {
    "U1": ["I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8"],
    "U2": ["I1", "I2", "I3", "I4", "I5", "I6"],
    "U3": ["I1", "I2", "I3", "I4", "I5"],
    "U4": ["I1", "I2", "I3", "I4"],
    "U5": ["I1", "I2", "I3", "I6", "I7", "I8"],
    "U6": ["I1", "I7", "I8"],
}
EXPECTED_SPLIT = {"U1": (4, 2, 2), "U2": (4, 1, 1), "U3": (3, 1, 1), "U4": (2, 1, 1), "U5": (4, 1, 1), "U6": (1, 1, 1)}


def review(user, item, rating, t, text=None):
    text = f"{user} on {item}" if text is None else text
    return {
        "reviewerID": user,
        "asin": item,
        "overall": rating,
        "unixReviewTime": t,
        "reviewText": text,
        "reviewerName": "x",
        "verified": True,
    }


def raw_rows():
    rows = [review("U3", "I1", 1.0, 9000), review("U4", "I5", 5.0, 9001)]  # later duplicates, listed first
    t = 1000
    for user, items in CORE.items():
        for n, item in enumerate(items):
            rows.append(
                review(
                    user,
                    item,
                    [3.0, 4.0, 5.0][n % 3] if (user, item) != ("U3", "I1") else 4.0,
                    t,
                    "" if user == "U6" else None,
                )
            )
            t += 1
    rows.append(review("U4", "I5", 2.0, 10))
    rows += [
        review(u, i, r, 2000 + k)
        for k, (u, i, r) in enumerate(
            [("U1", "I9", 1.0), ("U2", "I7", 2.0), ("U10", "I1", 2.0), ("U10", "I2", 1.0), ("U10", "I3", 2.5)]
        )
    ]
    rows += [
        review(u, i, 5.0, 3000 + k)
        for k, (u, i) in enumerate(
            [
                ("U7", "I1"),
                ("U7", "I2"),
                ("U7", "I9"),
                ("U8", "I9"),
                ("U8", "I10"),
                ("U9", "I9"),
                ("U9", "I1"),
                ("U9", "I3"),
            ]
        )
    ]
    return rows


def write_dump(folder):
    folder.mkdir(parents=True, exist_ok=True)
    rows = raw_rows()
    assert len(rows) == 48
    (folder / "reviews.json.gz").write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    meta = [
        {"asin": f"I{k}", "title": f"Book {k}", "description": [f"About {k}."], "category": ["Books"]}
        for k in range(1, 11)
    ]
    (folder / "meta.json").write_text("".join(json.dumps(m) + "\n" for m in meta))
    recipe = folder / "recipe.toml"
    recipe.write_text(
        'name = "toy-amazon"\n[source]\nformat = "amazon"\npath = "reviews.json.gz"\n'
        '[source.options]\nmeta_path = "meta.json"\n'
        '[filters]\nmin_rating = 3\nkcore = 3\n[split]\nmethod = "ratio"\nratios = [3, 1, 1]\nseed = 11\n'
    )
    return recipe


def check_output(folder):
    parts = {s: artifacts.read_parquet(folder / f"{s}.parquet", artifacts.SPLIT) for s in ("train", "valid", "test")}
    users = artifacts.read_parquet(folder / "users.parquet", artifacts.USERS)
    items = artifacts.read_parquet(folder / "items.parquet", artifacts.ITEMS)
    assert users["raw_id"].to_list() == sorted(CORE)  # dense ids follow the raw ids' sort order
    assert items["raw_id"].to_list() == sorted(f"I{k}" for k in range(1, 9))
    assert items["title"].to_list() == [f"Book {i[1:]}" for i in sorted(f"I{k}" for k in range(1, 9))]
    per_user = {}
    for name, df in parts.items():
        counts = df.join(users, on="user_id").group_by("raw_id").len()
        for raw, n in counts.iter_rows():
            per_user.setdefault(raw, [0, 0, 0])[("train", "valid", "test").index(name)] = n
    assert {u: tuple(c) for u, c in per_user.items()} == EXPECTED_SPLIT
    union = pl.concat(parts.values()).join(users, on="user_id").join(items, on="item_id")
    assert sorted(union.select("raw_id", "raw_id_right").rows()) == sorted(
        (u, i) for u, its in CORE.items() for i in its
    )
    assert union.filter(pl.col("raw_id") == "U3", pl.col("raw_id_right") == "I1")["rating"].to_list() == [4.0]
    assert artifacts.read_parquet(folder / "reviews.parquet", artifacts.REVIEWS).height == 29


def test_raw_amazon_dump_counts_after_each_step(tmp_path):
    recipe = write_dump(tmp_path / "raw")
    cfg = prepare.config_from_recipe(None, recipe, {})
    result = prepare.run(cfg, tmp_path / "work")
    steps = [(s["rows_removed"], s["rows"], s["users"], s["items"]) for s in result.stats["filters"]]
    assert [s["filter"] for s in result.stats["filters"]] == [
        "read",
        "dedupe (user, item)",
        "rating >= 3",
        "k-core (users 3, items 3)",
    ]
    assert steps == [(0, 48, 10, 10), (2, 46, 10, 10), (6, 40, 9, 10), (8, 32, 6, 8)]
    stats = result.stats
    assert (stats["users"], stats["items"]) == (6, 8)
    assert (stats["train_interactions"], stats["valid_interactions"], stats["test_interactions"]) == (18, 7, 7)
    assert stats["reviews"] == 29
    check_output(result.folder)


def test_same_dump_through_the_cli_with_meta_option(cli, tmp_path):
    recipe = write_dump(tmp_path / "raw")
    out = cli("prepare", "--recipe", recipe, "--name", "toy-cli", "--meta", tmp_path / "raw" / "meta.json")
    assert out.code == 0, out.err
    folder = tmp_path / "work" / "data" / "toy-cli"
    counts = artifacts.read_json(folder / "manifest.json")["counts"]
    assert (counts["train_interactions"], counts["valid_interactions"], counts["test_interactions"]) == (18, 7, 7)
    check_output(folder)
