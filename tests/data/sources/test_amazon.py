"""Amazon review dumps of the 2014, 2018 and 2023 releases, their metadata files, and the one-line errors."""

import gzip
import json

import polars as pl
import pytest

from llmrec_cli.data.sources import amazon
from llmrec_cli.errors import LLMRecError


def write_lines(path, records, literal=False):
    """JSON lines (or Python-literal dict lines, as in the 2014 metadata), gzipped when the name ends in .gz."""
    text = "".join((repr(r) if literal else json.dumps(r)) + "\n" for r in records).encode()
    path.write_bytes(gzip.compress(text) if path.suffix == ".gz" else text)
    return path


REVIEWS_2018 = [
    {
        "overall": 5.0,
        "verified": True,
        "reviewTime": "09 13, 2009",
        "reviewerID": "U1",
        "asin": "B1",
        "style": {"Format:": " Hardcover"},
        "reviewerName": "Ann",
        "reviewText": "Great book",
        "summary": "Five stars",
        "unixReviewTime": 1252800000,
        "vote": "3",
        "image": ["http://x"],
    },
    {"overall": 2.0, "reviewerID": "U2", "asin": "B1", "summary": "Meh", "unixReviewTime": 1252900000},
    {"overall": 4.0, "reviewerID": "U1", "asin": "B2", "reviewText": "  ", "summary": "", "unixReviewTime": 1253000000},
]


def test_2018_reviews_keep_only_the_needed_fields(tmp_path):
    src = amazon.read(write_lines(tmp_path / "Books.json", REVIEWS_2018), {})
    df = src.interactions
    assert df.schema == pl.Schema(
        {"user": pl.String, "item": pl.String, "rating": pl.Float32, "timestamp": pl.Int64, "review": pl.String}
    )
    assert df.rows() == [
        ("U1", "B1", 5.0, 1252800000, "Great book"),
        ("U2", "B1", 2.0, 1252900000, "Meh"),  # no reviewText: the summary stands in
        ("U1", "B2", 4.0, 1253000000, None),  # blank text and summary: no review
    ]
    assert src.items is None and src.files == [tmp_path / "Books.json"]
    assert "2014/2018" in src.notes[0]


def test_reviews_option_false_skips_the_text(tmp_path):
    src = amazon.read(write_lines(tmp_path / "Books.json", REVIEWS_2018), {"reviews": False})
    assert src.interactions.columns == ["user", "item", "rating", "timestamp"]


def test_2014_gzip_reviews_with_python_literal_metadata(tmp_path):
    reviews = write_lines(tmp_path / "reviews_Books.json.gz", REVIEWS_2018)
    meta = [
        {
            "asin": "B1",
            "title": "The Bell Jar",
            "description": "A novel.",
            "salesRank": {"Books": 3},
            "categories": [["Books", "Literature"], ["Books", "Classics"]],
            "related": {"also_bought": ["B2"]},
        },
        {"asin": "B2", "categories": [["Books"]], "imUrl": "http://y"},  # 2014 meta often lacks a title
        {"asin": "B1", "title": "duplicate, ignored"},
    ]
    write_lines(tmp_path / "meta_Books.json.gz", meta, literal=True)
    src = amazon.read(reviews, {"meta_path": "meta_Books.json.gz"})  # relative: found next to the reviews
    assert src.interactions.height == 3
    assert src.items.schema == pl.Schema(amazon.ITEM_SCHEMA)
    assert src.items.rows() == [
        ("B1", "The Bell Jar", "A novel.", ["Books", "Literature", "Classics"]),
        ("B2", None, None, ["Books"]),
    ]
    assert src.files == [reviews, tmp_path / "meta_Books.json.gz"]
    assert any("line by line" in note for note in src.notes)


def test_2023_reviews_prefer_parent_asin_and_convert_milliseconds(tmp_path):
    records = [
        {
            "rating": 5.0,
            "title": "Loved it",
            "text": "Works well",
            "images": [],
            "asin": "V1",
            "parent_asin": "P1",
            "user_id": "AG1",
            "timestamp": 1588687728923,
            "helpful_vote": 2,
            "verified_purchase": True,
        },
        {
            "rating": 3.0,
            "title": "Okay",
            "text": "",
            "asin": "V2",
            "parent_asin": "P1",
            "user_id": "AG2",
            "timestamp": 1588687729000,
        },
    ]
    df = amazon.read(write_lines(tmp_path / "All_Beauty.jsonl.gz", records), {}).interactions
    assert df.rows() == [("AG1", "P1", 5.0, 1588687728, "Works well"), ("AG2", "P1", 3.0, 1588687729, "Okay")]


def test_2023_metadata_joins_main_category_and_description_list(tmp_path):
    reviews = write_lines(
        tmp_path / "r.jsonl", [{"user_id": "AG1", "parent_asin": "P1", "rating": 4.0, "timestamp": 1}]
    )
    meta = [
        {
            "main_category": "All Beauty",
            "title": "Shampoo",
            "average_rating": 4.1,
            "features": ["x"],
            "description": ["Gentle.", "", "Smells nice."],
            "price": None,
            "images": [{"large": "u"}],
            "store": "S",
            "categories": ["Hair Care", "All Beauty"],
            "details": {"Brand": "S"},
            "parent_asin": "P1",
        },
        {"main_category": None, "title": "Comb", "description": [], "categories": [], "parent_asin": "P2"},
    ]
    items = amazon.read(reviews, {"meta_path": str(write_lines(tmp_path / "meta.jsonl", meta))}).items
    assert items.rows() == [
        ("P1", "Shampoo", "Gentle. Smells nice.", ["All Beauty", "Hair Care"]),
        ("P2", "Comb", None, []),
    ]


def test_2018_metadata_fast_path_and_irregular_fallback_agree(tmp_path):
    reviews = write_lines(tmp_path / "r.json", REVIEWS_2018)
    meta = [
        {
            "category": ["Books", "Literature & Fiction"],
            "description": ["First.", "Second."],
            "title": "T1",
            "also_buy": ["B9"],
            "rank": "1 in Books",
            "asin": "B1",
        },
        {"category": [], "description": [], "title": "T2", "asin": "B2"},
    ]
    fast = amazon.read(reviews, {"meta_path": str(write_lines(tmp_path / "m.json", meta))})
    assert not any("line by line" in note for note in fast.notes)
    expected = [("B1", "T1", "First. Second.", ["Books", "Literature & Fiction"]), ("B2", "T2", None, [])]
    assert fast.items.rows() == expected
    irregular = [meta[0], {**meta[1], "description": ""}]  # a string where the others have a list
    slow = amazon.read(reviews, {"meta_path": str(write_lines(tmp_path / "m2.json", irregular))})
    assert any("line by line" in note for note in slow.notes)
    assert slow.items.rows() == expected


def test_python_literal_review_lines_are_read(tmp_path):
    df = amazon.read(write_lines(tmp_path / "r.json", REVIEWS_2018, literal=True), {}).interactions
    assert df["user"].to_list() == ["U1", "U2", "U1"] and df["rating"].dtype == pl.Float32


def test_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("\n" + json.dumps(REVIEWS_2018[0]) + "\n\n" + json.dumps(REVIEWS_2018[1]) + "\n")
    assert amazon.read(path, {}).interactions.height == 2


# ----------------------------------------------------------------------------------------------------- errors
def error(path, options=None):
    with pytest.raises(LLMRecError) as info:
        amazon.read(path, options or {})
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_empty_file(tmp_path):
    path = tmp_path / "r.json"
    path.write_bytes(b"")
    assert "empty" in error(path)


def test_gzip_of_nothing_has_no_records(tmp_path):
    path = tmp_path / "r.json.gz"
    path.write_bytes(gzip.compress(b"\n\n"))
    assert "has no records" in error(path)


def test_gz_name_that_is_not_gzip(tmp_path):
    path = write_lines(tmp_path / "r.json", REVIEWS_2018).rename(tmp_path / "r.json.gz")
    assert "not gzip" in error(path)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "r.json.gz"
    path.write_bytes(gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in REVIEWS_2018 * 50))[:-30])
    assert "corrupt" in error(path)


@pytest.mark.parametrize("name", ["r.json", "r.json.gz"])
def test_corrupt_json_line_is_named(tmp_path, name):
    path = tmp_path / name
    lines = [json.dumps(r) for r in REVIEWS_2018] + ['{"reviewerID": "U3", "asin": ', json.dumps(REVIEWS_2018[0])]
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    message = error(path)
    assert "line 4 is not valid JSON" in message


def test_wrong_field_type_is_named(tmp_path):
    records = REVIEWS_2018 + [{"reviewerID": "U3", "asin": "B3", "overall": "five", "unixReviewTime": 1}]
    assert "line 4 has a field of an unexpected type" in error(write_lines(tmp_path / "r.json", records))


def test_missing_reviewer_id_in_first_record(tmp_path):
    path = write_lines(tmp_path / "r.json", [{"asin": "B1", "overall": 5.0}])
    assert "no reviewer id field (reviewerID or user_id) in first record" in error(path)


def test_missing_item_id_in_first_record(tmp_path):
    assert "no item id field (asin)" in error(write_lines(tmp_path / "r.json", [{"reviewerID": "U1", "overall": 1.0}]))


def test_missing_item_id_in_a_later_record(tmp_path):
    records = REVIEWS_2018[:2] + [{"reviewerID": "U3", "overall": 1.0, "unixReviewTime": 1}]
    assert "record 3 (counting non-blank lines) has no asin" in error(write_lines(tmp_path / "r.json", records))


def test_metadata_given_as_the_review_dump(tmp_path):
    path = write_lines(tmp_path / "meta.json", [{"asin": "B1", "title": "T"}], literal=True)
    assert "metadata goes to --meta" in error(path)


def test_metadata_without_item_ids(tmp_path):
    reviews = write_lines(tmp_path / "r.json", REVIEWS_2018)
    meta = write_lines(tmp_path / "m.json", [{"title": "T"}])
    with pytest.raises(LLMRecError, match=r"m.json: no item id field \(asin or parent_asin\) in first record"):
        amazon.read(reviews, {"meta_path": str(meta)})


def test_missing_metadata_file(tmp_path):
    reviews = write_lines(tmp_path / "r.json", REVIEWS_2018)
    with pytest.raises(LLMRecError, match=r"nope.json: metadata dump not found"):
        amazon.read(reviews, {"meta_path": "nope.json"})


def test_folder_is_not_a_review_dump(tmp_path):
    assert "is a folder" in error(tmp_path)
