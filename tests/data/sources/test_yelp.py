"""The Yelp Open Dataset folder: reviews -> interactions, businesses -> items, users -> users; one-line errors."""

import calendar
import gzip
import json
import time

import polars as pl
import pytest

from llmrec_cli.data.sources import yelp
from llmrec_cli.errors import LLMRecError


def write_lines(path, records):
    text = "".join(json.dumps(r) + "\n" for r in records).encode()
    path.write_bytes(gzip.compress(text) if path.suffix == ".gz" else text)
    return path


def utc(text, fmt="%Y-%m-%d %H:%M:%S"):
    return calendar.timegm(time.strptime(text, fmt))


REVIEWS = [
    {
        "review_id": "r1",
        "user_id": "u1",
        "business_id": "b1",
        "stars": 4.0,
        "useful": 1,
        "funny": 0,
        "cool": 0,
        "text": "Great tacos.",
        "date": "2018-07-07 22:09:11",
    },
    {
        "review_id": "r2",
        "user_id": "u2",
        "business_id": "b1",
        "stars": 1,
        "text": "Cold.",
        "date": "2012-01-03 15:28:18",
    },
    {"review_id": "r3", "user_id": "u1", "business_id": "b2", "stars": 5.0, "text": "", "date": "2014-02-05 20:30:30"},
]
BUSINESSES = [
    {
        "business_id": "b1",
        "name": "Taco Town",
        "address": "1 Main St",
        "city": "Tucson",
        "state": "AZ",
        "stars": 4.5,
        "attributes": {"WiFi": "u'free'"},
        "categories": "Mexican, Restaurants ,Tacos",
        "hours": None,
    },
    {"business_id": "b2", "name": "Shoe Shop", "city": "Reno", "categories": None},
]
USERS = [
    {
        "user_id": "u1",
        "name": "Ann",
        "review_count": 585,
        "yelping_since": "2007-01-25 16:47:26",
        "friends": "u2, u3",
        "elite": "2008,2009",
        "fans": 267,
    },
    {"user_id": "u2", "name": "Bo", "review_count": 4, "yelping_since": "2010-02-11 03:14:55", "friends": "None"},
]


def dataset(folder, prefix="yelp_academic_dataset_", suffix="", users=True):
    folder.mkdir(exist_ok=True)
    write_lines(folder / f"{prefix}review.json{suffix}", REVIEWS)
    write_lines(folder / f"{prefix}business.json{suffix}", BUSINESSES)
    if users:
        write_lines(folder / f"{prefix}user.json{suffix}", USERS)
    return folder


def test_folder_reads_reviews_businesses_and_users(tmp_path):
    src = yelp.read(dataset(tmp_path / "yelp"), {})
    assert src.interactions.schema == pl.Schema(
        {"user": pl.String, "item": pl.String, "rating": pl.Float32, "timestamp": pl.Int64, "review": pl.String}
    )
    assert src.interactions.rows() == [
        ("u1", "b1", 4.0, utc("2018-07-07 22:09:11"), "Great tacos."),
        ("u2", "b1", 1.0, utc("2012-01-03 15:28:18"), "Cold."),
        ("u1", "b2", 5.0, utc("2014-02-05 20:30:30"), ""),
    ]
    assert src.items.rows() == [
        ("b1", "Taco Town", "Tucson", ["Mexican", "Restaurants", "Tacos"]),
        ("b2", "Shoe Shop", "Reno", []),
    ]
    assert "description" not in src.items.columns
    assert src.users.rows() == [("u1", "Ann", 585, "2007-01-25 16:47:26"), ("u2", "Bo", 4, "2010-02-11 03:14:55")]
    assert [p.name for p in src.files] == [f"yelp_academic_dataset_{k}.json" for k in ("review", "business", "user")]


def test_short_gzipped_names_without_users_and_source_as_the_review_file(tmp_path):
    folder = dataset(tmp_path / "yelp", prefix="", suffix=".gz", users=False)
    for source in (folder, folder / "review.json.gz"):
        src = yelp.read(source, {"reviews": False})
        assert src.interactions.columns == ["user", "item", "rating", "timestamp"]
        assert src.users is None and src.items.height == 2
        assert yelp.files(source, {}) == [folder / "review.json.gz", folder / "business.json.gz"]


def test_date_only_reviews_of_older_releases(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    write_lines(folder / "review.json", [{"user_id": "u1", "business_id": "b1", "stars": 3, "date": "2011-10-10"}])
    src = yelp.read(folder, {})
    assert src.interactions["timestamp"].to_list() == [utc("2011-10-10", "%Y-%m-%d")]
    assert src.items is None and any("no yelp_academic_dataset_business.json" in n for n in src.notes)


# ----------------------------------------------------------------------------------------------------- errors
def error(source):
    with pytest.raises(LLMRecError) as info:
        yelp.read(source, {})
    assert "\n" not in str(info.value)
    return str(info.value)


def test_folder_without_reviews(tmp_path):
    assert "no yelp_academic_dataset_review.json (or review.json) in the folder" in error(tmp_path)


def test_empty_review_file(tmp_path):
    (tmp_path / "review.json").write_bytes(b"")
    assert "review file is empty" in error(tmp_path)


def test_review_file_named_gz_but_plain(tmp_path):
    write_lines(tmp_path / "review.json", REVIEWS).rename(tmp_path / "review.json.gz")
    assert "named .gz but is not gzip" in error(tmp_path)


def test_corrupt_review_line(tmp_path):
    path = tmp_path / "review.json"
    path.write_text(json.dumps(REVIEWS[0]) + "\n" + json.dumps(REVIEWS[1])[:-9] + "\n")
    assert "review.json: line 2 is not valid JSON" in error(tmp_path)


def test_missing_business_id(tmp_path):
    write_lines(tmp_path / "review.json", [{"user_id": "u1", "stars": 3, "date": "2011-10-10"}])
    assert "no business_id field in first record" in error(tmp_path)


def test_missing_user_id_in_a_later_record(tmp_path):
    write_lines(tmp_path / "review.json", REVIEWS[:2] + [{"business_id": "b1", "stars": 3, "date": "2011-10-10"}])
    assert "record 3 (counting non-blank lines) has no user_id" in error(tmp_path)


def test_unreadable_date(tmp_path):
    write_lines(tmp_path / "review.json", REVIEWS[:1] + [{**REVIEWS[1], "date": "yesterday"}])
    assert "record 2 has date 'yesterday', not a date like '2018-07-07 22:09:11'" in error(tmp_path)


def test_business_file_without_ids(tmp_path):
    write_lines(tmp_path / "review.json", REVIEWS)
    write_lines(tmp_path / "business.json", [{"name": "x"}])
    assert "business.json: no business_id field in first record" in error(tmp_path)
