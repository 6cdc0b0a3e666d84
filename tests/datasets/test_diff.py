"""`diff_versions`: exact added/removed/modified counts on versions with known changes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import zstandard

from ftpolicy.datasets.add import Source, add_dataset_version
from ftpolicy.datasets.diff import ShardMismatchError, diff_versions, parse_ref
from ftpolicy.errors import UsageError


def governed_repo(tmp_path: Path) -> Path:
    """A minimal governed repository: a valid ftpolicy.yaml and a data/ folder."""
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    (root / "ftpolicy.yaml").write_text("schema_version: 1\nkind: config\nproject: demo\n")
    return root


def chat(user: str, answer: str, **extra: Any) -> dict[str, Any]:
    return {
        **extra,
        "messages": [
            {"role": "system", "content": "Be helpful."},
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ],
    }


def write(path: Path, records: list[Any]) -> Path:
    data = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records).encode()
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def version(root: Path, v: str, shards: list[Path], fmt: str = "chat", parent: str | None = None) -> None:
    add_dataset_version(
        root,
        "tickets",
        version=v,
        shards=shards,
        sources=[Source.parse("kind=internal,uri=s3://corp/tickets,licence=proprietary")],
        collected_by="data-eng",
        authors=["alice"],
        collection=("2026-01-01", "2026-03-31"),
        record_format=fmt,
        change_summary=f"version {v}",
        parent=parent,
    )


def test_keyed_by_id_exact_counts(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    old = [chat(f"question {i}", f"answer {i}", id=f"t{i}") for i in range(1, 21)]
    # v2: t3, t4 removed; t5, t6, t7 modified (answer, then user turn, then an extra field);
    # t21..t24 added; the rest unchanged, in a different order and split over two shards.
    new = [r for r in old if r["id"] not in ("t3", "t4", "t5", "t6", "t7")]
    new.reverse()
    new += [
        chat("question 5", "a better answer 5", id="t5"),
        chat("question 6 (reworded)", "answer 6", id="t6"),
        {**chat("question 7", "answer 7", id="t7"), "source": "review"},
    ]
    new += [chat(f"question {i}", f"answer {i}", id=f"t{i}") for i in range(21, 25)]
    version(root, "1.0.0", [write(root / "data" / "v1.jsonl", old)])
    version(
        root,
        "1.1.0",
        [write(root / "data" / "v2a.jsonl.gz", new[:10]), write(root / "data" / "v2b.jsonl.zst", new[10:])],
        parent="1.0.0",
    )
    d = diff_versions(root, "tickets@1.0.0", "tickets@1.1.0", examples=2)
    assert (d.added, d.removed, d.modified, d.unchanged) == (4, 2, 3, 15)
    assert (d.old.records, d.new.records) == (20, 22)
    assert (d.new.keyed_by_id, d.new.keyed_by_prompt) == (22, 0)
    assert [c.key for c in d.added_examples] == ['id="t21"', 'id="t22"']
    assert [c.key for c in d.removed_examples] == ['id="t3"', 'id="t4"']
    assert [(c.key, c.field, c.old_excerpt, c.excerpt) for c in d.modified_examples] == [
        ('id="t5"', "messages[2].content", "answer 5", "a better answer 5"),
        ('id="t6"', "messages[1].content", "question 6", "question 6 (reworded)"),
    ]
    assert d.removed_examples[0].shard == "data/v1.jsonl" and d.removed_examples[0].line == 3
    assert d.added_examples[0].shard == "data/v2b.jsonl.zst"
    # Reversed direction: the mirror image.
    back = diff_versions(root, "tickets@1.1.0", "tickets@1.0.0")
    assert (back.added, back.removed, back.modified, back.unchanged) == (2, 4, 3, 15)


def test_keyed_by_prompt_when_there_is_no_id(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    old = [{"instruction": f"task {i}", "input": "ctx", "output": f"out {i}"} for i in range(10)]
    new = [dict(r) for r in old]
    new[0]["output"] = "changed output"  # same prompt side -> modified
    new[1]["instruction"] = "task 1, reworded"  # prompt side changed -> removed + added
    new[2]["input"] = "other ctx"  # input is part of the prompt side -> removed + added
    del new[3]  # removed
    new.append({"instruction": "task 99", "output": "new"})  # added (no input)
    version(root, "1", [write(root / "data" / "v1.jsonl", old)], fmt="instruction")
    version(root, "2", [write(root / "data" / "v2.jsonl", new)], fmt="instruction", parent="1")
    d = diff_versions(root, "tickets@1", "tickets@2")
    assert (d.added, d.removed, d.modified, d.unchanged) == (3, 3, 1, 6)
    assert (d.new.keyed_by_id, d.new.keyed_by_prompt) == (0, 10)
    assert d.modified_examples[0].field == "output"
    assert d.modified_examples[0].key.startswith("prompt=sha256:")


def test_chat_prompt_side_is_every_non_assistant_message(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    old = [chat("hello", "hi"), chat("refund?", "no"), chat("reset", "ok")]
    new = [chat("hello", "hi there"), chat("refund?", "no"), chat("reset", "ok")]
    new[2]["messages"][0]["content"] = "Be terse."  # system prompt changed -> different key
    version(root, "1.0.0", [write(root / "data" / "v1.jsonl", old)])
    version(root, "1.1.0", [write(root / "data" / "v2.jsonl", new)], parent="1.0.0")
    d = diff_versions(root, "tickets@1.0.0", "tickets@1.1.0")
    assert (d.added, d.removed, d.modified, d.unchanged) == (1, 1, 1, 1)


def test_duplicate_keys_pair_by_occurrence(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    a, b = chat("same", "x", id="k"), chat("same", "y", id="k")
    other = chat("other", "z", id="o")
    # v1: k(x), k(y), o     v2: k(x), k(x), k(y), o
    # 1st k: x == x unchanged; 2nd k: y -> x modified; 3rd k: only in v2 -> added.
    version(root, "1", [write(root / "data" / "v1.jsonl", [a, b, other])])
    version(root, "2", [write(root / "data" / "v2.jsonl", [a, a, b, other])], parent="1")
    d = diff_versions(root, "tickets@1", "tickets@2")
    assert (d.added, d.removed, d.modified, d.unchanged) == (1, 0, 1, 2)
    assert (d.old.duplicate_keys, d.new.duplicate_keys) == (1, 2)
    assert d.added_examples[0].key == 'id="k" (occurrence 3)'
    assert d.modified_examples[0].key == 'id="k" (occurrence 2)'
    back = diff_versions(root, "tickets@2", "tickets@1")
    assert (back.added, back.removed, back.modified, back.unchanged) == (0, 1, 1, 2)
    # Deterministic: the same inputs give the same answer.
    assert diff_versions(root, "tickets@1", "tickets@2") == d


def test_malformed_lines_are_counted_not_compared(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    version(root, "1", [write(root / "data" / "v1.jsonl", [chat("q", "a", id=1), "{broken"])])
    version(
        root, "2", [write(root / "data" / "v2.jsonl", [chat("q", "a", id=1), {"no": "messages"}])], parent="1"
    )
    d = diff_versions(root, "tickets@1", "tickets@2")
    assert (d.added, d.removed, d.modified, d.unchanged) == (0, 0, 0, 1)
    assert (d.old.malformed, d.new.malformed) == (1, 1)


def test_shard_changed_after_recording_is_an_error(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    shard = write(root / "data" / "v1.jsonl", [chat("q", "a", id=1)])
    version(root, "1", [shard])
    version(root, "2", [write(root / "data" / "v2.jsonl", [chat("q", "b", id=1)])], parent="1")
    write(shard, [chat("q", "poisoned", id=1)])
    with pytest.raises(ShardMismatchError) as info:
        diff_versions(root, "tickets@1", "tickets@2")
    err = info.value
    assert "data/v1.jsonl" in err.message and err.exit_code == 1
    assert err.location is not None and err.location.path == "datasets/tickets/1.yaml"
    assert err.location.line is not None
    shard.unlink()
    with pytest.raises(ShardMismatchError, match="missing"):
        diff_versions(root, "tickets@1", "tickets@2")


def test_unknown_versions_and_bad_refs(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    version(root, "1", [write(root / "data" / "v1.jsonl", [chat("q", "a")])])
    with pytest.raises(UsageError) as info:
        diff_versions(root, "tickets@1", "tickets@9")
    assert info.value.code == "dataset.version-not-found" and "1" in (info.value.hint or "")
    with pytest.raises(UsageError, match="NAME@VERSION"):
        parse_ref("tickets")
    with pytest.raises(UsageError, match="NAME@VERSION"):
        parse_ref("../x@1")


def test_json_form_is_versioned_and_complete(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    version(root, "1", [write(root / "data" / "v1.jsonl", [chat("q", "a", id=1), chat("r", "b", id=2)])])
    version(
        root,
        "2",
        [write(root / "data" / "v2.jsonl", [chat("q", "A", id=1), chat("s", "c", id=3)])],
        parent="1",
    )
    doc = diff_versions(root, "tickets@1", "tickets@2", examples=0).to_dict()
    assert doc["schema_version"] == 1 and doc["kind"] == "dataset-diff"
    assert doc["summary"] == {"added": 1, "removed": 1, "modified": 1, "unchanged": 0}
    assert doc["examples"] == {"added": [], "removed": [], "modified": []}
    assert doc["old"]["ref"] == "tickets@1" and doc["new"]["keyed_by"] == {"id": 2, "prompt": 0}


def test_a_shard_shared_by_both_versions(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    base = write(root / "data" / "base.jsonl", [chat(f"q{i}", "a", id=i) for i in range(5)])
    extra = write(root / "data" / "extra.jsonl", [chat("q9", "a", id=9)])
    version(root, "1", [base])
    version(root, "2", [base, extra], parent="1")
    d = diff_versions(root, "tickets@1", "tickets@2")
    assert (d.added, d.removed, d.modified, d.unchanged) == (1, 0, 0, 5)
    write(base, [chat("q0", "b", id=0)])
    with pytest.raises(ShardMismatchError, match=r"shard data/base\.jsonl does not match tickets@1:"):
        diff_versions(root, "tickets@1", "tickets@2")


def test_modified_example_shows_the_changed_part_of_long_text(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    long = "Restart the worker, then check the queue depth. " * 4
    version(root, "1", [write(root / "data" / "v1.jsonl", [chat("q", long, id=1)])])
    version(
        root,
        "2",
        [write(root / "data" / "v2.jsonl", [chat("q", long + "Then page on-call.", id=1)])],
        parent="1",
    )
    [change] = diff_versions(root, "tickets@1", "tickets@2").modified_examples
    assert change.field == "messages[2].content"
    assert change.excerpt.startswith("...") and change.excerpt.endswith("Then page on-call.")
    assert not change.old_excerpt or "Then page" not in change.old_excerpt
