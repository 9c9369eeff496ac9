"""`llmrec profile` end to end through the real CLI against a loopback OpenAI-compatible server."""

from __future__ import annotations

import hashlib
import json
import threading
import time

import polars as pl
import pytest
from loopback import LoopbackLLM, message_sha, profile_via_server

from llmrec_cli import artifacts
from llmrec_cli.profile import prompts, runner
from llmrec_cli.profile.backends import BackendOptions
from llmrec_cli.profile.inputs import Corpus, item_inputs

SECRET = "sk-loopback-secret-0123456789"


def _outputs(workdir):
    folder = workdir / "profiles" / "tiny" / "steam@1"
    items = artifacts.read_parquet(folder / "items.parquet", artifacts.profiles_schema("item"))
    users = artifacts.read_parquet(folder / "users.parquet", artifacts.profiles_schema("user"))
    return folder, items, users, pl.read_parquet(folder / "failures.parquet")


def test_profiles_items_then_users_and_is_up_to_date_after(cli, tiny, loopback, monkeypatch):
    monkeypatch.setenv("LOOP_KEY", SECRET)
    result = profile_via_server(cli, tiny, loopback.url)
    assert result.code == 0, result.err
    folder, items, users, failures = _outputs(tiny)
    assert items.height == 20 and users.height == 30 and failures.height == 0
    assert items["item_id"].to_list() == list(range(20)) and set(items["prompt_id"]) == {"steam-item@1"}
    assert set(users["model"]) == {"openai/loop"} and users["input_tokens"].min() == 100
    bodies = loopback.chat_requests()
    assert all("USER FEEDBACK" in b["messages"][1]["content"] for b in bodies[:20])  # items first
    assert all("PLAYED GAMES" in b["messages"][1]["content"] for b in bodies[20:])
    # user prompts quote the item profiles just written
    item_summaries = set(items["summarization"])
    assert any(s in bodies[25]["messages"][1]["content"] for s in item_summaries)
    assert all(r["auth"] == f"Bearer {SECRET}" for r in loopback.requests)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["counts"]["items"]["profiled"] == 20 and manifest["model"] == "openai/loop"
    assert set(manifest["prompts"]) == {"steam-item@1", "steam-user@1"}
    for file in tiny.rglob("*"):  # the key is never written anywhere
        if file.is_file():
            assert SECRET.encode() not in file.read_bytes(), file
    again = profile_via_server(cli, tiny, loopback.url)
    assert again.code == 0 and "up to date" in again.out and len(loopback.requests) == 50


def test_invalid_answers_are_retried_then_recorded_and_retry_failures_takes_only_those(cli, tiny):
    corpus = Corpus.load(tiny, "tiny")
    item_template = prompts.resolve("steam").item
    stubborn = {
        hashlib.sha256(i.text.encode()).hexdigest()[:16] for i in item_inputs(corpus, item_template, [3, 7], 2023)
    }
    with LoopbackLLM(faults=["prose", "fence", "invalid"], always_invalid=set(stubborn)) as server:
        result = profile_via_server(cli, tiny, server.url, "--attempts", "2")
        assert result.code == 0, result.err
        _, items, users, failures = _outputs(tiny)
        assert items.height == 18 and users.height == 30
        assert failures.select("entity", "entity_id").rows() == [("item", 3), ("item", 7)]
        assert failures["reason"][0].startswith("invalid answer: no JSON object") and failures["attempts"][0] == 2
        assert failures["last_answer"][0] == '{"summarization": "cut off'
        asked = [message_sha(b) for b in server.chat_requests()]
        assert sum(a in stubborn for a in asked) == 4  # two attempts each
        server.always_invalid.clear()
        server.requests.clear()
        plain = profile_via_server(cli, tiny, server.url)  # a plain rerun never re-asks a recorded failure
        assert plain.code == 0 and server.chat_requests() == []
        retried = profile_via_server(cli, tiny, server.url, "--retry-failures")
        assert retried.code == 0, retried.err
        asked = [message_sha(b) for b in server.chat_requests()]
    _, items, users, failures = _outputs(tiny)
    assert items.height == 20 and failures.height == 0
    # the two items now have profiles, so the users who played them get new prompts; nobody else is asked again
    assert set(asked[:2]) == stubborn
    user_prompts = [b["messages"][1]["content"] for b in server.chat_requests()[2:]]
    assert 0 < len(user_prompts) < 30
    assert all('"Game number 3"' in p or '"Game number 7"' in p for p in user_prompts)


def test_dry_run_counts_tokens_and_sends_nothing(cli, tiny, loopback):
    result = profile_via_server(cli, tiny, loopback.url, "--dry-run", "--price-in", "0.5", "--price-out", "1.5")
    assert result.code == 0, result.err
    assert loopback.requests == [] and "dry run" in result.out and "total" in result.out
    assert not (tiny / "profiles" / "tiny" / "steam@1" / "items.parquet").exists()


def test_limit_profiles_a_seeded_sample(cli, tiny, loopback):
    assert profile_via_server(cli, tiny, loopback.url, "--limit", "5").code == 0
    _, items, users, _ = _outputs(tiny)
    assert items.height == 5 and users.height == 5
    first = (items["item_id"].to_list(), users["user_id"].to_list())
    assert profile_via_server(cli, tiny, loopback.url, "--limit", "5", "--force").code == 0
    _, items, users, _ = _outputs(tiny)
    assert (items["item_id"].to_list(), users["user_id"].to_list()) == first
    assert len(loopback.requests) == 10  # --force rebuilt the outputs from the store: nothing asked twice


def test_bad_options_are_one_line_errors(cli, tiny):
    result = cli("profile", "--dataset", "tiny", "--backend", "openai", workdir=tiny)
    assert result.code == 2 and "needs --base-url" in result.err
    result = cli("profile", "--dataset", "tiny", "--backend", "carrier-pigeon", workdir=tiny)
    assert result.code == 2 and "--backend carrier-pigeon" in result.err
    result = cli("profile", "--dataset", "missing", workdir=tiny)
    assert result.code == 2 and "not prepared" in result.err
    result = profile_via_server(
        cli, tiny, "http://127.0.0.1:9/v1", "--max-retries", "0", "--timeout", "1", "--limit", "1"
    )
    # an unreachable server fails each request, recorded, not a crash; every request failed: one line, exit 2
    assert result.code == 2 and "all 2 requests failed" in result.err and "Traceback" not in result.err
    failures = pl.read_parquet(tiny / "profiles" / "tiny" / "steam@1" / "failures.parquet")
    assert failures.height == 2 and failures["reason"][0].startswith("backend: gave up after 1 tries: connection error")


def test_two_shards_share_the_work_and_the_last_one_writes_the_outputs(cli, tiny, loopback, monkeypatch):
    monkeypatch.setattr(runner, "SHARD_POLL_S", 0.01)
    monkeypatch.setattr(runner, "SHARD_STALL_S", 0.05)  # no other shard runs: shard 0 soon stops waiting for it
    first = profile_via_server(cli, tiny, loopback.url, "--shard", "0/2")
    assert first.code == 0 and "not finished" in first.out and "10 items of other shards" in first.out
    assert not (tiny / "profiles" / "tiny" / "steam@1" / "items.parquet").exists()
    # items 1, 3, ...; then, all items done, its users
    second = profile_via_server(cli, tiny, loopback.url, "--shard", "1/2")
    assert second.code == 0 and "15 users of other shards" in second.out
    third = profile_via_server(cli, tiny, loopback.url, "--shard", "0/2")  # shard 0's users: the last piece
    assert third.code == 0 and "not finished" not in third.out
    asked = [message_sha(b) for b in loopback.chat_requests()]
    assert len(asked) == 50 and len(set(asked)) == 50  # every prompt asked once, by one shard
    _, items, users, failures = _outputs(tiny)
    assert items.height == 20 and users.height == 30 and failures.height == 0
    # the shards' outputs count as the whole run
    assert profile_via_server(cli, tiny, loopback.url).out.count("up to date") == 1


def test_a_shard_whose_items_are_done_waits_for_the_other_shards_items_then_asks_its_users(tiny, loopback, monkeypatch):
    monkeypatch.setattr(runner, "SHARD_POLL_S", 0.01)
    monkeypatch.setattr(runner, "SHARD_STALL_S", 30.0)
    options = BackendOptions(backend="openai", base_url=loopback.url, model="loop", concurrency=4)
    results = {}

    def shard(k):
        results[k] = runner.run(runner.ProfileRequest("tiny", "steam", options, shard=(k, 2)), tiny)

    first = threading.Thread(target=shard, args=(0,))
    first.start()
    deadline = time.monotonic() + 30
    while len(loopback.chat_requests()) < 10 and time.monotonic() < deadline:  # shard 0's items: 0, 2, ..., 18
        time.sleep(0.01)
    time.sleep(0.1)
    assert first.is_alive()  # waiting for items 1, 3, ..., which no one has asked yet
    shard(1)
    first.join(30)
    asked = [message_sha(b) for b in loopback.chat_requests()]
    assert len(asked) == 50 and len(set(asked)) == 50
    assert not all(
        r.unfinished for r in results.values()
    )  # the last to finish (or both, finishing together) wrote the outputs
    _, items, users, failures = _outputs(tiny)
    assert items.height == 20 and users.height == 30 and failures.height == 0


def test_bad_shards_are_one_line_errors(cli, tiny, loopback):
    for shard, message in (("2/2", "0 <= K < N"), ("half", "give K/N")):
        result = profile_via_server(cli, tiny, loopback.url, "--shard", shard)
        assert result.code == 2 and message in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("dataset", ["../tiny", "/tmp", "..", "tiny/../tiny"])
def test_dataset_names_outside_the_workdir_are_refused(cli, tiny, dataset):
    before = sorted(tiny.parent.rglob("*"))
    for extra in ([], ["--import", str(tiny)]):
        result = cli("profile", "--dataset", dataset, "--prompt", "steam", *extra, workdir=tiny)
        assert result.code == 2 and "--dataset" in result.err and len(result.err.strip().splitlines()) == 1, result
    assert sorted(tiny.parent.rglob("*")) == before


def test_numbers_out_of_range_are_refused(cli, tiny):
    for option in (
        ("--limit", "0"),
        ("--attempts", "0"),
        ("--concurrency", "0"),
        ("--timeout", "0"),
        ("--threads", "0"),
    ):
        assert cli("profile", "--dataset", "tiny", *option, workdir=tiny).code == 2, option
