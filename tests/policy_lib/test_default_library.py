"""The default Rego library: unit tests on both engines, lint, and one decision case per rule."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ftpolicy.resources import policies_dir, schemas_dir

CASES_DIR = Path(__file__).resolve().parents[1] / "policy" / "cases"
CASES = sorted(CASES_DIR.glob("*.json"))


def _rule_ids() -> set[str]:
    """Every rule id a default (non-test) module can emit."""
    ids: set[str] = set()
    for module in policies_dir().glob("*.rego"):
        if module.name.endswith("_test.rego"):
            continue
        ids |= set(re.findall(r'"rule": "([a-z]+/[a-z0-9-]+)"', module.read_text()))
    return ids


def _input_validator() -> Any:
    schema = json.loads((schemas_dir() / "policy-input.v1.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def test_rego_unit_tests_pass_on_embedded_engine() -> None:
    from ftpolicy.policy.regotest import run_tests

    report = run_tests([policies_dir()])
    failed = [(r.test.query, r.status, r.message) for r in report.results if r.status != "pass"]
    assert failed == []
    assert report.count("pass") >= 50


@pytest.mark.opa
def test_opa_test_check_and_fmt_are_clean(opa_bin: str) -> None:
    folder = str(policies_dir())
    tested = subprocess.run([opa_bin, "test", folder], capture_output=True, text=True, check=False)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "PASS" in tested.stdout
    checked = subprocess.run(
        [opa_bin, "check", "--strict", folder], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    fmt = subprocess.run([opa_bin, "fmt", "--list", folder], capture_output=True, text=True, check=False)
    assert fmt.returncode == 0 and fmt.stdout.strip() == "", fmt.stdout + fmt.stderr


def test_every_rule_has_unit_tests_and_a_case() -> None:
    ids = _rule_ids()
    assert len(ids) >= 18
    tests = "".join(p.read_text() for p in policies_dir().glob("*_test.rego"))
    cases = {rule for path in CASES for rule in json.loads(path.read_text())["expected"]["deny"]}
    cases |= {rule for path in CASES for rule in json.loads(path.read_text())["expected"]["warn"]}
    untested = sorted(i for i in ids if i not in tests)
    uncovered = sorted(i for i in ids if i not in cases and i != "main/malformed-result")
    assert untested == []
    assert uncovered == []


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case_on_embedded_engine(path: Path) -> None:
    from ftpolicy.policy.decision import DECISION_QUERY, parse_decision
    from ftpolicy.policy.engines import get_engine, load_policy_set

    case = json.loads(path.read_text())
    _input_validator().validate(case["input"])
    engine = get_engine("embedded")
    decision = parse_decision(engine.query(load_policy_set([policies_dir()]), DECISION_QUERY, case["input"]))
    assert sorted(v.rule for v in decision.violations) == case["expected"]["deny"]
    assert sorted(v.rule for v in decision.warnings) == case["expected"]["warn"]
    for v in decision.violations:
        assert v.msg and v.severity in ("critical", "high", "medium", "low", "info")
