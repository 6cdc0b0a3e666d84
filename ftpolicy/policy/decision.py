"""The decision of ``ftpolicy.main``: violations, warnings and waived results.

Policy denials are results, not exceptions. :func:`parse_decision` turns the raw JSON an
engine returned for ``data.ftpolicy.main.decision`` into a :class:`Decision` and refuses
anything that is not exactly that shape with :class:`EvaluationError` (exit 3): a decision
that cannot be read is never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ftpolicy.errors import EvaluationError, ExitCode

__all__ = ["DECISION_QUERY", "DECISION_SCHEMA", "Decision", "Violation", "Waiver", "parse_decision"]

DECISION_QUERY = "data.ftpolicy.main.decision"
"""The one query a check makes."""

DECISION_SCHEMA = "ftpolicy/decision/v1"

SEVERITIES = ("critical", "high", "medium", "low", "info")


@dataclass(frozen=True)
class Waiver:
    """An exception that switched a result off: who owns it, why, and until when."""

    rule: str
    owner: str
    reason: str
    expires: str
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = {"rule": self.rule, "owner": self.owner, "reason": self.reason, "expires": self.expires}
        if self.path is not None:
            out["path"] = self.path
        return out


@dataclass(frozen=True)
class Violation:
    """One deny or warn result: ``rule`` is ``<package>/<id>``, ``path`` repo-relative."""

    rule: str
    msg: str
    severity: str
    path: str | None = None
    line: int | None = None
    hint: str | None = None
    pointer: str | None = None  # JSON pointer of the offending field in ``path``

    @property
    def package(self) -> str:
        """The package part of the rule id (``dataset`` for ``dataset/parent-missing``)."""
        return self.rule.split("/", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (keys without value left out)."""
        out: dict[str, Any] = {"rule": self.rule, "msg": self.msg, "severity": self.severity}
        for key in ("path", "line", "pointer", "hint"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class Decision:
    """What the policies decided. ``allowed`` holds only when nothing was denied."""

    violations: tuple[Violation, ...]
    warnings: tuple[Violation, ...]
    waived: tuple[tuple[Violation, tuple[Waiver, ...]], ...] = ()
    packages: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        """True when no violation remains."""
        return not self.violations

    def exit_code(self, *, fail_on_warn: bool = False) -> ExitCode:
        """0 pass, 1 deny (or any warning with ``fail_on_warn``)."""
        if self.violations or (fail_on_warn and self.warnings):
            return ExitCode.VIOLATION
        return ExitCode.OK


def _bad(what: str) -> EvaluationError:
    return EvaluationError(
        f"the policy decision is malformed: {what}",
        hint="ftpolicy.main must produce {deny: [...], warn: [...], waived: [...]}; "
        "check the repository's policies for a package named ftpolicy.main",
        code="policy.malformed-decision",
    )


def _violation(raw: Any, where: str) -> Violation:
    if not isinstance(raw, Mapping):
        raise _bad(f"{where} is not an object")
    rule, msg = raw.get("rule"), raw.get("msg")
    if not isinstance(rule, str) or not rule or not isinstance(msg, str):
        raise _bad(f"{where} has no rule id or message")
    severity = raw.get("severity", "high")
    if severity not in SEVERITIES:
        severity = "high"
    path = raw.get("path")
    line = raw.get("line")
    hint = raw.get("hint")
    pointer = raw.get("pointer")
    return Violation(
        rule=rule,
        msg=msg,
        severity=severity,
        path=path if isinstance(path, str) and path else None,
        line=line if isinstance(line, int) and not isinstance(line, bool) and line > 0 else None,
        hint=hint if isinstance(hint, str) and hint else None,
        pointer=pointer if isinstance(pointer, str) and (pointer == "" or pointer.startswith("/")) else None,
    )


def _waiver(raw: Any) -> Waiver:
    if not isinstance(raw, Mapping):
        raise _bad("a waiver is not an object")
    fields = {k: raw.get(k) for k in ("rule", "owner", "reason", "expires")}
    if not all(isinstance(v, str) for v in fields.values()):
        raise _bad("a waiver lacks rule, owner, reason or expires")
    path = raw.get("path")
    return Waiver(**fields, path=path if isinstance(path, str) else None)  # type: ignore[arg-type]


def _sorted(items: list[Violation]) -> tuple[Violation, ...]:
    return tuple(sorted(items, key=lambda v: (v.path or "", v.line or 0, v.rule, v.msg)))


def parse_decision(raw: Any) -> Decision:
    """Read the JSON value of ``data.ftpolicy.main.decision``; raise :class:`EvaluationError` if malformed."""
    if not isinstance(raw, Mapping):
        raise _bad(f"expected an object, got {type(raw).__name__}")
    if raw.get("schema") != DECISION_SCHEMA:
        raise _bad(f"schema is {raw.get('schema')!r}, expected {DECISION_SCHEMA!r}")
    lists = {}
    for key in ("deny", "warn", "waived"):
        value = raw.get(key)
        if not isinstance(value, list):
            raise _bad(f"'{key}' is missing or not a list")
        lists[key] = value
    violations = [_violation(v, f"deny[{i}]") for i, v in enumerate(lists["deny"])]
    warnings = [_violation(v, f"warn[{i}]") for i, v in enumerate(lists["warn"])]
    waived = []
    for i, item in enumerate(lists["waived"]):
        if not isinstance(item, Mapping) or not isinstance(item.get("waivers"), list):
            raise _bad(f"waived[{i}] is not {{violation, waivers}}")
        waived.append(
            (_violation(item.get("violation"), f"waived[{i}]"), tuple(_waiver(w) for w in item["waivers"]))
        )
    # "allow" is recomputed from deny, never trusted on its own.
    if raw.get("allow") is not (not violations):
        raise _bad("'allow' disagrees with 'deny'")
    packages = raw.get("packages", [])
    return Decision(
        violations=_sorted(violations),
        warnings=_sorted(warnings),
        waived=tuple(sorted(waived, key=lambda w: (w[0].path or "", w[0].line or 0, w[0].rule))),
        packages=tuple(p for p in packages if isinstance(p, str)) if isinstance(packages, list) else (),
    )
