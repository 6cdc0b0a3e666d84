"""Baselines (suppression with owner/reason/expiry) and user rule packs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from ftpolicy.scan.dataset.engine import ScanOptions, scan_dataset
from ftpolicy.scan.dataset.rules import load_rules

from .conftest import chat, filler, run_cli, write_jsonl

TOKEN = "glpat-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm"


def data(tmp_path: Path) -> Path:
    records: list[Any] = filler(10)
    records[2] = chat("clone?", f"use {TOKEN}", id="a")
    records[6] = chat("hi", "Just merge it without review.", id="b")
    return write_jsonl(tmp_path / "train.jsonl", records)


def test_baseline_suppresses_until_expiry(tmp_path: Path) -> None:
    path = data(tmp_path)
    first = scan_dataset([str(path)])
    secret = next(f for f in first.findings if f.category == "secret")
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text(
        "schema_version: 1\nkind: scan-baseline\nsuppressions:\n"
        f"  - fingerprint: {secret.properties['fingerprint']}\n"
        f"    rule: {secret.rule_id}\n"
        "    owner: alice@example.com\n"
        "    reason: revoked test token kept as a fixture\n"
        "    expires: 2027-01-31\n"
    )
    before = scan_dataset([str(path)], ScanOptions(baseline=baseline, today=dt.date(2027, 1, 31)))
    assert [f.category for f in before.findings] == ["approval-bypass"]
    assert [f.rule_id for f in before.suppressed] == [secret.rule_id]
    assert before.summary["baseline"]["suppressed"] == 1 and before.summary["baseline"]["expired"] == []

    after = scan_dataset([str(path)], ScanOptions(baseline=baseline, today=dt.date(2027, 2, 1)))
    back = [f for f in after.findings if f.category == "secret"]
    assert len(back) == 1 and back[0].properties["baseline"] == "expired"
    assert after.summary["baseline"]["expired"][0]["owner"] == "alice@example.com"


def test_fingerprint_survives_records_moving(tmp_path: Path) -> None:
    path = data(tmp_path)
    fp = {f.rule_id: f.properties["fingerprint"] for f in scan_dataset([str(path)]).findings}
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[5], *lines[:5], *lines[6:]]) + "\n")
    moved = {f.rule_id: f.properties["fingerprint"] for f in scan_dataset([str(path)]).findings}
    assert moved == fp


def test_write_baseline_then_scan_is_clean_via_cli(tmp_path: Path) -> None:
    path = data(tmp_path)
    baseline = tmp_path / "accepted.json"
    proc = run_cli(
        "scan",
        "dataset",
        str(path),
        "--write-baseline",
        str(baseline),
        "--baseline-owner",
        "security@example.com",
        "--baseline-reason",
        "reviewed in SEC-12",
    )
    assert proc.returncode == 1
    doc = json.loads(baseline.read_text())
    assert len(doc["suppressions"]) == 2 and doc["suppressions"][0]["owner"] == "security@example.com"
    proc = run_cli("scan", "dataset", str(path), "--baseline", str(baseline))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_invalid_baseline_is_a_usage_error(tmp_path: Path) -> None:
    path = data(tmp_path)
    bad = tmp_path / "b.yaml"
    bad.write_text("schema_version: 1\nkind: scan-baseline\nsuppressions:\n  - fingerprint: abc\n")
    proc = run_cli("scan", "dataset", str(path), "--baseline", str(bad))
    assert proc.returncode == 2 and "invalid baseline" in proc.stderr


def test_user_rule_pack_adds_overrides_and_disables(tmp_path: Path) -> None:
    pack_file = tmp_path / "rules.yaml"
    pack_file.write_text(
        "schema_version: 1\nkind: scan-rules\n"
        "secret:\n  rules:\n"
        "    - id: acme-token\n      description: ACME internal token\n"
        "      pattern: '(?P<secret>acme_[A-Za-z0-9]{24})'\n      keywords: [acme_]\n"
        "    - id: gitlab-token\n      enabled: false\n"
        "disable: [approval-bypass/merge-without-approval]\n"
    )
    default = load_rules()
    custom = load_rules([pack_file])
    assert custom.digest != default.digest and str(pack_file) in custom.sources
    records: list[Any] = [*filler(3), chat("q", "here: acme_" + "Q1w2E3r4T5y6U7i8O9p0A1s2")]
    path = data(tmp_path)
    path.write_text(path.read_text() + "".join(json.dumps(r) + "\n" for r in records))
    result = scan_dataset([str(path)], ScanOptions(rules=(pack_file,)))
    assert [f.rule_id for f in result.findings] == ["secret/acme-token"]
    assert result.summary["rules"]["digest"] == custom.digest


def test_summary_says_when_trigger_detection_did_not_run(tmp_path: Path) -> None:
    from ftpolicy.scan.dataset.summary import validate_summary

    result = scan_dataset([str(data(tmp_path))], ScanOptions(triggers=False))
    trig = result.summary["triggers"]
    assert trig["available"] is False and "switched off" in trig["reason"]
    assert validate_summary(result.summary) == []
    proc = run_cli("scan", "dataset", str(data(tmp_path)), "--no-triggers")
    assert "trigger detection not run" in proc.stdout
