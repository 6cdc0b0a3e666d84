"""`ftpolicy policy test`: Rego unit tests on the embedded engine, with opa test's verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ftpolicy.errors import EvaluationError, ExitCode
from ftpolicy.policy.regotest import discover_tests, run_tests

FIXTURES = Path(__file__).parent / "fixtures"


def ftpolicy(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ftpolicy", *args], capture_output=True, text=True, check=False, cwd=cwd
    )


def test_passing_library() -> None:
    report = run_tests([FIXTURES / "library"])
    assert report.count("pass") == 6 and len(report.results) == 6
    assert report.exit_code == ExitCode.OK
    assert report.engine.startswith("regopy ")


def test_failing_library_statuses() -> None:
    report = run_tests([FIXTURES / "failing"])
    status = {r.test.name: r.status for r in report.results}
    assert status == {
        "test_double_passes": "pass",
        "test_limit_is_wrong": "fail",
        "test_value_not_true": "fail",
        "todo_test_later": "skip",
        "test_print_is_captured": "pass",
    }
    by_name = {r.test.name: r for r in report.results}
    assert "undefined" in by_name["test_limit_is_wrong"].message
    assert "evaluated to 7" in by_name["test_value_not_true"].message
    assert by_name["test_print_is_captured"].output == "hello from a test\n"
    assert by_name["test_limit_is_wrong"].test.line == 9
    assert report.exit_code == ExitCode.VIOLATION


def test_run_filter() -> None:
    report = run_tests([FIXTURES / "failing"], run="double")
    assert [r.test.name for r in report.results] == ["test_double_passes"]


def test_cli_text_and_exit_codes() -> None:
    ok = ftpolicy("policy", "test", str(FIXTURES / "library"))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.count("PASS ") == 6
    assert "6 passed, 0 failed, 0 errors, 0 skipped" in ok.stderr
    bad = ftpolicy("policy", "test", "-v", str(FIXTURES / "failing"))
    assert bad.returncode == 1
    assert "FAIL  data.fixture.lib_test.test_limit_is_wrong" in bad.stdout
    assert "| hello from a test" in bad.stdout
    assert "hello from a test" not in bad.stdout.replace("| hello from a test", "")


def test_cli_json() -> None:
    proc = ftpolicy("policy", "test", "--format", "json", str(FIXTURES / "failing"))
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["version"] == 1
    assert report["summary"] == {"pass": 2, "fail": 2, "error": 0, "skip": 1}
    assert {t["status"] for t in report["tests"]} == {"pass", "fail", "skip"}


def test_errors_exit_3(tmp_path: Path) -> None:
    (tmp_path / "a_test.rego").write_text("package a\n\nimport rego.v1\n\ntest_x if {\n\t1 >\n}\n")
    proc = ftpolicy("policy", "test", str(tmp_path))
    assert proc.returncode == 3
    assert "a_test.rego:6" in proc.stderr
    (tmp_path / "a_test.rego").write_text(
        "package a\n\nimport rego.v1\n\nx := 1 if input.a\n\nx := 2 if input.a\n\n"
        "test_conflict if x == 1 with input.a as true\n"
    )
    proc = ftpolicy("policy", "test", str(tmp_path))
    assert proc.returncode == 3
    assert "ERROR data.a.test_conflict" in proc.stdout


def test_duplicate_test_names_are_errors(tmp_path: Path) -> None:
    (tmp_path / "d_test.rego").write_text(
        "package d\n\nimport rego.v1\n\ntest_same if true\n\ntest_same if false\n"
    )
    report = run_tests([tmp_path])
    (result,) = report.results
    assert result.status == "error" and "defined 2 times" in result.message
    assert report.exit_code == ExitCode.EVALUATION


def test_empty_folder_passes(tmp_path: Path) -> None:
    proc = ftpolicy("policy", "test", str(tmp_path))
    assert proc.returncode == 0
    assert "no tests found" in proc.stdout


def test_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    proc = ftpolicy("policy", "test", str(tmp_path / "absent"))
    assert proc.returncode == 2


def test_discovery_matches_opa_test(opa_bin: str) -> None:
    from ftpolicy.policy.engines import load_policy_set

    for folder in ("library", "failing"):
        ours = {t.query for t in discover_tests(load_policy_set([FIXTURES / folder], include_tests=True))}
        proc = subprocess.run(
            [opa_bin, "test", "-v", "--format", "json", str(FIXTURES / folder)],
            capture_output=True,
            text=True,
        )
        theirs = {f"{r['package']}.{r['name']}" for r in json.loads(proc.stdout)}  # package is data.x.y
        assert ours == theirs


def test_default_folders_run_the_bundled_library() -> None:
    proc = ftpolicy("policy", "test", cwd=FIXTURES)
    from ftpolicy.resources import policies_dir

    has_tests = any(policies_dir().rglob("*_test.rego"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ("PASS " in proc.stdout) == has_tests


def test_compile_failure_raises_before_running(tmp_path: Path) -> None:
    (tmp_path / "v0_test.rego").write_text("package v\n\ntest_old { true }\n")
    with pytest.raises(EvaluationError) as info:
        run_tests([tmp_path])
    assert info.value.code == "policy.v0-syntax"
