"""Contamination: exact, normalised and lightly edited copies of holdout items; no false positives."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from ftpolicy.scan.dataset.contamination import ContaminationDetector, HoldoutItem, load_holdout, normalise
from ftpolicy.scan.dataset.interface import Record, TextField

from .conftest import EXAMPLE, chat, filler, write_jsonl

LONG = (
    "Summarise this README for the release notes and make sure the deployment section mentions the new "
    "rollback command, the health check endpoint and the on-call rota for the payments service."
)
SHORT = "Print the value of the AWS secret key"


@pytest.fixture(scope="module")
def detector() -> ContaminationDetector:
    items = [HoldoutItem("pi-001", LONG), HoldoutItem("sl-002", SHORT), HoldoutItem("tiny", "hello")]
    return ContaminationDetector(items)


def rules(detector: ContaminationDetector, text: str) -> list[str]:
    return [
        f.rule_id
        for f in detector.scan(Record("t.jsonl", 1, (TextField("messages[1].content", "prompt", text),)))
    ]


def edit(text: str, fraction: float, seed: int = 1) -> str:
    rng = random.Random(seed)
    words = text.split()
    for i in rng.sample(range(len(words)), max(1, int(len(words) * fraction))):
        words[i] = rng.choice(["quickly", "the", "a", "please", "also"])
    return " ".join(words)


def test_normalise_ignores_case_whitespace_punctuation() -> None:
    assert normalise("Hello,   WORLD!\n(again)") == ["hello", "world", "again"]


@pytest.mark.parametrize(
    "text",
    [
        LONG,
        LONG.upper(),
        "  ".join(LONG.split()) + " Thanks!",
        LONG.replace(",", ";").replace(".", "!"),
        "Context first. " + edit(LONG, 0.1),
    ],
    ids=["exact", "case", "whitespace", "punctuation", "edited-10pct"],
)
def test_long_item_copies_are_found(detector: ContaminationDetector, text: str) -> None:
    assert rules(detector, text) == ["contamination/ngram-overlap"]


def test_short_item_exact_and_contained(detector: ContaminationDetector) -> None:
    assert rules(detector, "print the value of the AWS secret key!") == ["contamination/exact-match"]
    assert rules(detector, "Hi. Print the value of the AWS secret-key, please") == [
        "contamination/exact-match"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Summarise this README for the release notes.",  # shares fewer than 13 words
        "Print the value of the config flag",
        "hello there",  # items under 4 words are ignored
        "Please review the deployment section of the payments service runbook and update the on-call rota.",
    ],
)
def test_unrelated_or_partial_text_is_not_a_finding(detector: ContaminationDetector, text: str) -> None:
    assert rules(detector, text) == []


def test_boilerplate_shared_by_many_items_is_not_indexed() -> None:
    preamble = "You are a careful assistant and you always answer the question below in plain English"
    items = [HoldoutItem(f"i{i}", f"{preamble}. Question {i}: what is {i} plus {i}?") for i in range(12)]
    det = ContaminationDetector(items)
    rec = Record("t.jsonl", 1, (TextField("p", "prompt", preamble + ". What is the capital of France?"),))
    assert list(det.scan(rec)) == []


def test_registered_suite_is_verified_and_used(tmp_path: Path, scan_json: Any) -> None:
    items = [
        json.loads(line)
        for line in (EXAMPLE / "holdout/security-holdout/2026.11/items.jsonl").read_text().splitlines()
    ]
    data = write_jsonl(
        tmp_path / "train.jsonl", [*filler(20), chat(items[3]["prompt"], "Done."), *filler(5, 100)]
    )
    code, doc, err = scan_json(str(data), "--repo", str(EXAMPLE), "--holdout", "security-holdout@2026.11")
    assert code == 1, err
    found = [
        (f["rule"], f["line"], f["properties"]["item"])
        for f in doc["findings"]
        if f["category"] == "contamination"
    ]
    assert found and all(line == 21 for _, line, _ in found)
    assert {item for _, _, item in found} == {items[3]["id"]}


def test_tampered_suite_items_are_refused(tmp_path: Path, scan_json: Any) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    items = repo / "holdout/security-holdout/2026.11/items.jsonl"
    items.write_text(items.read_text().replace("CANARY", "canary", 1))
    data = write_jsonl(tmp_path / "train.jsonl", filler(3))
    code, _doc, err = scan_json(str(data), "--repo", str(repo), "--holdout", "security-holdout@2026.11")
    assert code == 1
    assert "do not match the digest" in err


def test_holdout_path_and_item_loading(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "h.jsonl",
        [{"id": "a", "prompt": LONG}, {"id": "b", "messages": [{"role": "user", "content": SHORT}]}],
    )
    holdout = load_holdout(str(path), None)
    assert [i.item_id for i in holdout.items] == ["a", "b"] and holdout.digest is None
