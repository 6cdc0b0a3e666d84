"""Rego unit tests (``test_*`` rules) run on the embedded engine, like ``opa test`` does.

Tests are the rules whose name starts with ``test_`` in any loaded module (by convention in
``*_test.rego`` files); ``todo_test_*`` rules are reported as skipped. Each test is evaluated as
the query ``data.<package>.<rule>`` with no input document and without strict built-in errors
(``opa test``'s defaults): it passes when the value is ``true``; ``false``, any other value or an
undefined result is a failure; an evaluation error is an error.

Discovery reads rule heads from tokens (see ``engines._rego_source``), not from a full parse.
Limits: a package declared with quoted segments (``package a["b"]``) is reported as an error;
a test name defined more than once is reported as an error (``opa test`` runs each definition
separately as ``name#01``..., which one query cannot do), so give each test its own name.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ftpolicy.errors import EvaluationError, ExitCode, Location
from ftpolicy.policy.engines import _rego_source as rs
from ftpolicy.policy.engines.interface import PolicyEngine, UndefinedResult
from ftpolicy.policy.engines.policyset import PolicySet, load_policy_set

__all__ = ["RegoTest", "TestReport", "TestResult", "discover_tests", "run_tests"]

Status = Literal["pass", "fail", "error", "skip"]


@dataclass(frozen=True)
class RegoTest:
    """One test rule: ``data.<package>.<name>`` defined at ``file:line``."""

    package: str
    name: str
    file: str
    line: int
    definitions: int = 1

    @property
    def query(self) -> str:
        """The reference that evaluates the test."""
        return f"data.{self.package}.{self.name}"

    @property
    def skipped(self) -> bool:
        """``todo_test_*`` rules are reported, not run."""
        return self.name.startswith("todo_test_")


@dataclass(frozen=True)
class TestResult:
    """The outcome of one test; ``message`` explains a failure or error."""

    test: RegoTest
    status: Status
    message: str = ""
    duration_ms: float = 0.0
    output: str = ""  # text the test printed with print()

    __test__ = False  # not a pytest test class

    def to_dict(self) -> dict[str, Any]:
        """Stable machine form (``--format json``)."""
        out: dict[str, Any] = {
            "package": self.test.package,
            "name": self.test.name,
            "file": self.test.file,
            "line": self.test.line,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
        }
        if self.message:
            out["message"] = self.message
        if self.output:
            out["output"] = self.output
        return out


@dataclass(frozen=True)
class TestReport:
    """All results of a run, with the engine that produced them."""

    results: tuple[TestResult, ...]
    engine: str

    __test__ = False

    def count(self, status: Status) -> int:
        """How many tests ended with ``status``."""
        return sum(1 for r in self.results if r.status == status)

    @property
    def exit_code(self) -> ExitCode:
        """0 all passed (or none), 3 any test could not be evaluated, else 1 on a failure."""
        if self.count("error"):
            return ExitCode.EVALUATION
        if self.count("fail"):
            return ExitCode.VIOLATION
        return ExitCode.OK

    def to_dict(self) -> dict[str, Any]:
        """Stable machine form (``--format json``), versioned."""
        return {
            "version": 1,
            "engine": self.engine,
            "summary": {s: self.count(s) for s in ("pass", "fail", "error", "skip")},
            "tests": [r.to_dict() for r in self.results],
        }


def discover_tests(policy_set: PolicySet) -> list[RegoTest]:
    """Every ``test_*`` / ``todo_test_*`` rule of ``policy_set``, in file and line order."""
    found: dict[tuple[str, str], RegoTest] = {}
    for name in sorted(policy_set.modules):
        source = policy_set.modules[name]
        try:
            tokens = rs.tokenize(source)
        except rs.LexError as exc:
            raise EvaluationError(
                f"policy does not parse: {exc.message}",
                location=Location(name, exc.line, exc.col),
                code="policy.compile",
            ) from None
        heads = [(rule, line) for rule, line, is_function in rs.rule_heads(tokens) if not is_function]
        tests = [(rule, line) for rule, line in heads if rule.startswith(("test_", "todo_test_"))]
        if not tests:
            continue
        package = rs.module_package(tokens)
        if package is None:
            raise EvaluationError(
                "a module with tests must start with a plain package declaration (package a.b.c)",
                location=Location(name, 1),
                code="policy.compile",
            )
        for rule, line in tests:
            key = (package[0], rule)
            if key in found:
                prior = found[key]
                found[key] = RegoTest(prior.package, rule, prior.file, prior.line, prior.definitions + 1)
            else:
                found[key] = RegoTest(package[0], rule, name, line)
    return list(found.values())


def run_tests(
    folders: list[Path],
    *,
    engine: PolicyEngine | None = None,
    run: str | None = None,
) -> TestReport:
    """Load ``folders`` with their tests and run every test (or those whose query matches ``run``).

    Raises :class:`EvaluationError` when the policies cannot be compiled at all.
    """
    if engine is None:
        from ftpolicy.policy.engines.embedded import EmbeddedEngine

        engine = EmbeddedEngine(strict_builtin_errors=False)
    policy_set = load_policy_set(folders, include_tests=True)
    tests = discover_tests(policy_set)
    if run:
        pattern = re.compile(run)
        tests = [t for t in tests if pattern.search(t.query)]
    runnable = [t for t in tests if not t.skipped and t.definitions == 1]
    engine.prepare(policy_set, [t.query for t in runnable])
    results = [_run_one(engine, policy_set, t) for t in tests]
    return TestReport(results=tuple(results), engine=engine.version())


def _run_one(engine: PolicyEngine, policy_set: PolicySet, test: RegoTest) -> TestResult:
    if test.skipped:
        return TestResult(test, "skip", "todo_test_ rule: not run")
    if test.definitions > 1:
        return TestResult(
            test,
            "error",
            f"{test.name} is defined {test.definitions} times in package {test.package}; "
            "one query cannot run the definitions separately (opa test reports them as "
            f"{test.name}#01...): give each test its own name",
        )
    started = time.perf_counter()
    status: Status
    try:
        value = engine.query(policy_set, test.query, None)
    except UndefinedResult:
        status, message = "fail", "undefined (a condition in the test body did not hold)"
    except EvaluationError as exc:
        status, message = "error", exc.message
    else:
        if value is True:
            status, message = "pass", ""
        else:
            status, message = "fail", f"evaluated to {_short(value)}, not true"
    elapsed = (time.perf_counter() - started) * 1000
    output = str(getattr(engine, "last_print_output", "") or "")
    return TestResult(test, status, message, elapsed, output)


def _short(value: Any) -> str:
    import json

    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."
