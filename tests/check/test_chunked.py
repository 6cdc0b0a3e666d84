"""A full check evaluated in chunks decides exactly what one query over the whole input decides."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ftpolicy.check import _library, evaluate_check
from ftpolicy.errors import EvaluationError
from ftpolicy.git import GitRepo
from ftpolicy.policy import chunked
from ftpolicy.policy.chunked import merge_decisions, split_input
from ftpolicy.policy.decision import DECISION_QUERY, parse_decision
from ftpolicy.policy.engines import get_engine
from ftpolicy.policy.input import build_input

NOW = "2026-11-28T12:00:00Z"
BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "check_bench.py"


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("check_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def document(gov_root: Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The full-check input of the ~120-manifest repository."""
    with GitRepo.open(gov_root) as git:
        pi = build_input(git, root=gov_root, now=NOW)
    return pi.document, pi.subjects


@pytest.fixture(scope="module")
def gov_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~120-manifest governed repository with violations of several rules, on main."""
    bench = _bench()
    root = tmp_path_factory.mktemp("chunked") / "gov"
    bench.generate(root, 120)
    ds = root / "datasets" / "ds-00003"
    (ds / "1.1.0.yaml").write_text(
        (ds / "1.1.0.yaml").read_text().replace("licence: internal", "licence: GPL-3.0")
    )
    (ds / "1.2.0.yaml").write_text(
        (ds / "1.2.0.yaml").read_text().replace('parent: "1.1.0"', 'parent: "0.9.0"')
    )
    (root / "datasets" / "ds-00005" / "1.0.0.yaml").write_text("schema_version: 1\nkind: dataset\nname: [\n")
    ad = root / "adapters" / "ad-00001" / "1.0.0.yaml"
    ad.write_text(ad.read_text().replace("adapter_model.safetensors", "adapter_model.bin"))
    ad2 = root / "adapters" / "ad-00002" / "1.0.0.yaml"
    ad2.write_text(ad2.read_text().replace("ds-00002@1.0.0", "ds-00005@1.0.0"))
    (root / "ftpolicy.yaml").write_text(
        (root / "ftpolicy.yaml").read_text()
        + "policy_params:\n  exceptions:\n"
        + "    - {rule: dataset/licence-not-allowed, owner: sec, reason: legal ok, expires: '2099-01-01',"
        + " path: datasets/ds-00003/1.1.0.yaml}\n"
        + "    - {rule: adapter/unsafe-weight-format, owner: sec, reason: old, expires: '2020-01-01'}\n"
    )
    bench._git(root, "add", "-A")
    bench._git(root, "-c", "commit.gpgsign=false", "commit", "-q", "-m", "violations")
    subprocess.run(["git", "-C", str(root), "switch", "-q", "main"], check=True)
    bench._git(root, "merge", "-q", "--ff-only", "change")
    return root


def _canon(decision: Any) -> list[str]:
    """Every deny, warn and waived entry of a decision (dataclass reprs carry every field)."""
    d = parse_decision(decision)
    return sorted(
        [f"deny {v!r}" for v in d.violations]
        + [f"warn {v!r}" for v in d.warnings]
        + [repr(w) for w in d.waived]
    )


def _compare(engine: Any, document: dict[str, Any], subjects: tuple[str, ...]) -> None:
    library = _library(None)[0]
    single = engine.query(library, DECISION_QUERY, document)
    rules = {v["rule"] for v in single["deny"]} | {v["rule"] for v in single["warn"]}
    assert {
        "dataset/parent-missing",
        "manifest/invalid",
        "adapter/dataset-missing",
        "main/waiver-expired",
    } <= rules, rules
    assert single["waived"], "the licence waiver applies"
    for size in (7, 40):
        chunks = split_input(document, subjects, size)
        assert len(chunks) > 1
        assert sum(1 for c in chunks for m in c["manifests"] if m["subject"]) == sum(
            1 for m in document["manifests"] if m["subject"]
        )
        merged = merge_decisions([engine.query(library, DECISION_QUERY, c) for c in chunks])
        assert _canon(merged) == _canon(single)
        assert merged["allow"] is single["allow"]


def test_chunked_equals_single_on_the_embedded_engine(
    document: tuple[dict[str, Any], tuple[str, ...]],
) -> None:
    _compare(get_engine("embedded"), *document)


@pytest.mark.opa
def test_chunked_equals_single_on_opa(
    opa_server: str, document: tuple[dict[str, Any], tuple[str, ...]]
) -> None:
    _compare(get_engine("opa", opa_url=opa_server), *document)


def test_merge_refuses_to_hide_an_inconsistent_chunk() -> None:
    ok = {
        "schema": "ftpolicy/decision/v1",
        "allow": True,
        "deny": [],
        "warn": [],
        "waived": [],
        "packages": [],
    }
    bad = {**ok, "allow": False}
    merged = merge_decisions([ok, bad])
    with pytest.raises(Exception, match="allow"):
        parse_decision(merged)


def _findings(root: Path) -> list[str]:
    report = evaluate_check(root, now=NOW).report
    return sorted(repr(f) for f in report.findings)


def test_full_check_in_chunks_and_workers_equals_one_query(
    gov_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FTPOLICY_CACHE", "0")
    single = _findings(gov_root)
    assert any("dataset/parent-missing" in f for f in single)
    monkeypatch.setattr(chunked, "CHUNK_MANIFESTS", 15)
    assert _findings(gov_root) == single  # chunks in worker processes (2 CPUs or more)
    monkeypatch.setenv("FTPOLICY_JOBS", "1")
    assert _findings(gov_root) == single  # chunks in this process


def test_chunk_decisions_are_cached(gov_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunked, "CHUNK_MANIFESTS", 30)
    first = evaluate_check(gov_root, now=NOW).report
    second = evaluate_check(gov_root, now=NOW).report
    assert sorted(map(repr, first.findings)) == sorted(map(repr, second.findings))
    assert any("from the decision cache" in n for n in second.notes)
    later = evaluate_check(gov_root, now="2026-11-29T12:00:00Z").report  # another check time
    assert not any("from the decision cache" in n for n in later.notes)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_evaluation_error_in_a_chunk_is_an_error(
    gov_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    monkeypatch.setenv("FTPOLICY_CACHE", "0")
    monkeypatch.setenv("FTPOLICY_JOBS", jobs)
    monkeypatch.setattr(chunked, "CHUNK_MANIFESTS", 15)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "bad.rego").write_text(
        "package ftpolicy.bad\n\nimport rego.v1\n\n"
        'deny contains {"rule": "bad/x", "msg": sprintf("%v", [to_number(m.path)])} if {\n'
        '\tsome m in input.manifests\n\tstartswith(m.path, "datasets/ds-0002")\n}\n'
    )
    with pytest.raises(EvaluationError):
        evaluate_check(gov_root, now=NOW, extra_policies=[tmp_path / "bad"])
