"""Differential test: the embedded engine (regopy) and a real OPA server must decide alike.

(a) Every Rego unit test (``test_*`` rule) of the default library in ``policies/`` and of the
    fixture library in ``tests/engines/fixtures/library`` is evaluated on both engines the way
    ``opa test`` runs it (no input, lenient built-ins); the outcomes must be identical.
(b) Every case file ``tests/policy/cases/*.json`` (``{"input": ..., "expected": {"deny": [...],
    "warn": [...]}}``) is evaluated as ``data.ftpolicy.main.decision`` on both engines with the
    gate's settings (strict built-in errors) against the default library, and the fixture cases
    in ``tests/engines/fixtures/cases`` against the fixture library; both decisions must be
    identical and match ``expected``. An expected entry is a rule id (string) or an object whose
    keys must all equal the corresponding decision entry's.

Nothing passes vacuously: the fixture library always contributes tests and cases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ftpolicy.errors import EvaluationError
from ftpolicy.policy.engines import PolicyEngine, PolicySet, UndefinedResult, get_engine, load_policy_set
from ftpolicy.policy.regotest import discover_tests

pytestmark = pytest.mark.opa

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "policies"
FIXTURE_LIBRARY = ROOT / "tests" / "engines" / "fixtures" / "library"
CASE_DIRS = {LIBRARY: ROOT / "tests" / "policy" / "cases", FIXTURE_LIBRARY: FIXTURE_LIBRARY.parent / "cases"}
DECISION = "data.ftpolicy.main.decision"


def _library_dirs() -> list[Path]:
    dirs = [FIXTURE_LIBRARY]
    if LIBRARY.is_dir() and any(LIBRARY.rglob("*.rego")):
        dirs.append(LIBRARY)
    return dirs


def _test_params() -> list[Any]:
    params = []
    for folder in _library_dirs():
        for test in discover_tests(load_policy_set([folder], include_tests=True)):
            if not test.skipped:
                params.append(pytest.param(folder, test.query, id=f"{folder.name}:{test.query}"))
    return params


def _case_params() -> list[Any]:
    params = []
    for folder in _library_dirs():
        cases = CASE_DIRS[folder]
        for case in sorted(cases.glob("*.json")) if cases.is_dir() else []:
            params.append(pytest.param(folder, case, id=f"{folder.name}:{case.stem}"))
    return params


TEST_PARAMS = _test_params()
CASE_PARAMS = _case_params()


def test_something_is_compared() -> None:
    fixture_tests = [p for p in TEST_PARAMS if p.values[0] == FIXTURE_LIBRARY]
    fixture_cases = [p for p in CASE_PARAMS if p.values[0] == FIXTURE_LIBRARY]
    assert len(fixture_tests) >= 5 and len(fixture_cases) >= 2
    if LIBRARY in _library_dirs():
        assert any(p.values[0] == LIBRARY for p in TEST_PARAMS), "policies/ has modules but no tests"


@pytest.fixture(scope="module")
def engines(opa_server: str) -> Iterator[dict[str, dict[str, PolicyEngine]]]:
    made = {
        "lenient": {
            "embedded": get_engine("embedded", strict_builtin_errors=False),
            "opa": get_engine("opa", opa_url=opa_server, strict_builtin_errors=False),
        },
        "strict": {"embedded": get_engine("embedded"), "opa": get_engine("opa", opa_url=opa_server)},
    }
    yield made
    for pair in made.values():
        for eng in pair.values():
            eng.close()


_SETS: dict[tuple[Path, bool], PolicySet] = {}


def _policy_set(folder: Path, include_tests: bool, engines: list[PolicyEngine]) -> PolicySet:
    key = (folder, include_tests)
    if key not in _SETS:
        ps = load_policy_set([folder], include_tests=include_tests)
        queries = [t.query for t in discover_tests(ps) if not t.skipped] if include_tests else [DECISION]
        for eng in engines:  # compile every entry point at once (one regopy build, one upload)
            eng.prepare(ps, queries)
        _SETS[key] = ps
    return _SETS[key]


def _outcome(engine: PolicyEngine, ps: PolicySet, query: str, input: Any) -> tuple[str, Any]:
    try:
        return ("value", engine.query(ps, query, input))
    except UndefinedResult:
        return ("undefined", None)
    except EvaluationError as exc:
        return ("error", f"{exc.code}: {exc.message}")


@pytest.mark.parametrize(("folder", "query"), TEST_PARAMS)
def test_rego_unit_test_agrees(engines: dict[str, dict[str, PolicyEngine]], folder: Path, query: str) -> None:
    ps = _policy_set(folder, True, list(engines["lenient"].values()))
    embedded = _outcome(engines["lenient"]["embedded"], ps, query, None)
    opa = _outcome(engines["lenient"]["opa"], ps, query, None)
    assert embedded[0] != "error", embedded
    assert embedded == opa


def _matches(items: list[Any], expected: list[Any]) -> bool:
    if len(items) != len(expected):
        return False
    unused = list(items)
    for want in expected:
        for item in unused:
            if isinstance(want, str):
                hit = isinstance(item, dict) and item.get("rule") == want
            else:
                hit = isinstance(item, dict) and all(item.get(k) == v for k, v in want.items())
            if hit:
                unused.remove(item)
                break
        else:
            return False
    return True


@pytest.mark.parametrize(("folder", "case_file"), CASE_PARAMS)
def test_decision_case_agrees(
    engines: dict[str, dict[str, PolicyEngine]], folder: Path, case_file: Path
) -> None:
    case = json.loads(case_file.read_text(encoding="utf-8"))
    ps = _policy_set(folder, False, list(engines["strict"].values()))
    embedded = engines["strict"]["embedded"].query(ps, DECISION, case["input"])
    opa = engines["strict"]["opa"].query(ps, DECISION, case["input"])
    assert embedded == opa
    for kind in ("deny", "warn"):
        if kind in case["expected"]:
            got = embedded.get(kind, [])
            assert _matches(got, case["expected"][kind]), (kind, got, case["expected"][kind])
    if "allow" in case["expected"]:
        assert embedded.get("allow") == case["expected"]["allow"]
