"""The UCSD Steam dumps: Python-literal review lines (two layouts) and the games metadata; one-line errors."""

import calendar
import gzip
import json
import time

import polars as pl
import pytest

from llmrec_cli.data.sources import steam
from llmrec_cli.errors import LLMRecError


def write_lines(path, lines):
    text = "".join(line + "\n" for line in lines).encode()
    path.write_bytes(gzip.compress(text) if path.suffix == ".gz" else text)
    return path


def day(text, fmt="%Y-%m-%d"):
    return calendar.timegm(time.strptime(text, fmt))


REVIEW_LINES = [
    # the SASRec copy has Python 2 reprs (u'...'), the UCSD copy plain ones; a JSON line is read too
    "{u'username': u'Chaos Syren', u'hours': 0.1, u'products': 41, u'product_id': u'725280', u'page_order': 0, "
    "u'date': u'2017-12-17', u'text': u\"It's not worth it\", u'early_access': False, u'page': 1}",
    "{'username': 'Ruby', 'hours': 12.5, 'product_id': '328100', 'date': '2018-01-02', 'text': 'Fun', "
    "'compensation': 'Product received for free', 'early_access': True}",
    json.dumps({"username": "Ruby", "product_id": "725280", "date": "2018-01-03", "text": "Again"}),
]
GAME_LINES = [
    "{'publisher': 'Kotoshiro', 'genres': ['Action', 'Casual'], 'app_name': 'Lost Summoner Kitty', "
    "'title': 'Lost Summoner Kitty', 'url': 'http://store', "
    "'release_date': '2018-01-04', 'tags': ['Strategy', 'Action'], "
    "'discount_price': 4.49, 'specs': ['Single-player'], 'price': 4.99, 'early_access': False, 'id': '725280', "
    "'developer': 'Kotoshiro'}",
    "{'url': 'http://store2', 'title': 'Only &amp; Title', 'id': '328100', 'tags': [], 'price': 'Free to Play'}",
    "{'app_name': 'No id at all', 'tags': ['x']}",
    "{'id': '725280', 'app_name': 'duplicate, ignored'}",
]


def test_steam_reviews_with_games_metadata(tmp_path):
    reviews = write_lines(tmp_path / "steam_reviews.json.gz", REVIEW_LINES)
    write_lines(tmp_path / "steam_games.json.gz", GAME_LINES)
    src = steam.read(reviews, {"meta_path": "steam_games.json.gz"})
    assert src.interactions.schema == pl.Schema(
        {"user": pl.String, "item": pl.String, "timestamp": pl.Int64, "review": pl.String}
    )
    assert src.interactions.rows() == [
        ("Chaos Syren", "725280", day("2017-12-17"), "It's not worth it"),
        ("Ruby", "328100", day("2018-01-02"), "Fun"),
        ("Ruby", "725280", day("2018-01-03"), "Again"),
    ]
    assert src.items.schema == pl.Schema(steam.ITEM_SCHEMA)
    assert src.items.rows() == [
        (
            "725280",
            "Lost Summoner Kitty",
            ["Action", "Casual"],
            ["Strategy", "Action"],
            ["Single-player"],
            "Kotoshiro",
            "Kotoshiro",
        ),
        ("328100", "Only &amp; Title", [], [], [], None, None),
    ]
    assert src.files == [reviews, tmp_path / "steam_games.json.gz"]


def test_australian_user_reviews_layout(tmp_path):
    lines = [
        "{'user_id': '76561197970982479', 'user_url': 'http://u', 'reviews': [{'funny': '', 'posted': "
        "'Posted November 5, 2011.', 'last_edited': '', 'item_id': '1250', 'helpful': 'No ratings yet', "
        "'recommend': True, 'review': 'Simple yet great'}, {'posted': 'Posted July 15.', 'item_id': '22200', "
        "'review': 'ok', 'recommend': False}]}",
        "{'user_id': 'js41637', 'user_url': 'http://v', 'reviews': []}",
        "{'user_id': 'evcentric', 'reviews': [{'posted': 'Posted June 24, 2014.', 'item_id': '1250', 'review': 'x'}]}",
    ]
    src = steam.read(write_lines(tmp_path / "australian_user_reviews.json", lines), {"reviews": False})
    assert src.interactions.rows() == [
        ("76561197970982479", "1250", day("November 5, 2011", "%B %d, %Y")),
        ("76561197970982479", "22200", None),  # posted in the crawl's year, which the dump leaves out
        ("evcentric", "1250", day("June 24, 2014", "%B %d, %Y")),
    ]
    assert any("1 reviews have a posting date without a year" in note for note in src.notes)
    assert src.items is None


# ----------------------------------------------------------------------------------------------------- errors
def error(path, options=None):
    with pytest.raises(LLMRecError) as info:
        steam.read(path, options or {})
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    return str(info.value)


def test_empty_dump(tmp_path):
    path = tmp_path / "steam_reviews.json.gz"
    path.write_bytes(b"")
    assert "empty" in error(path)


def test_gz_name_that_is_not_gzip(tmp_path):
    path = tmp_path / "steam_reviews.json.gz"
    path.write_text(REVIEW_LINES[1] + "\n")
    assert "not gzip" in error(path)


def test_line_that_is_neither_json_nor_a_dict(tmp_path):
    path = write_lines(tmp_path / "steam_reviews.json", REVIEW_LINES[:2] + ["{'username': 'x', 'product_id': "])
    assert "line 3 is neither JSON nor a Python dict" in error(path)


def test_missing_product_id(tmp_path):
    path = write_lines(tmp_path / "steam_reviews.json", REVIEW_LINES[:1] + ["{'username': 'x', 'date': '2018-01-01'}"])
    assert "line 2 has no product_id" in error(path)


def test_unknown_layout(tmp_path):
    path = write_lines(tmp_path / "steam_reviews.json", GAME_LINES)
    assert "neither username/product_id" in error(path)


def test_games_file_without_ids(tmp_path):
    reviews = write_lines(tmp_path / "steam_reviews.json", REVIEW_LINES)
    meta = write_lines(tmp_path / "games.json", ["{'url': 'x'}"])
    with pytest.raises(LLMRecError, match=r"games.json: no id field in first record"):
        steam.read(reviews, {"meta_path": str(meta)})
