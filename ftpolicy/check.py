"""The pull-request gate: evaluate the policies on what changed between two revisions.

>>> from ftpolicy.check import run_check
>>> report = run_check(Path("."), base="origin/main")               # doctest: +SKIP
>>> report.status, [f.rule_id for f in report.findings]             # doctest: +SKIP
('fail', ['dataset/licence-not-allowed'])

A check reads everything from Git objects at ``head`` (never the work tree), except local
data files whose digests it compares with the manifests. It builds one input document
(:mod:`ftpolicy.policy.input`), makes one query (``data.ftpolicy.main.decision``) on the chosen
engine and turns the :class:`~ftpolicy.policy.decision.Decision` into a
:class:`~ftpolicy.report.Report`. Anything that prevents a decision raises
:class:`~ftpolicy.errors.EvaluationError` (exit 3) or a configuration/Git error (exit 2): a
check never passes because it could not look.

Policies evaluated: the bundled default library (or ``policies=DIR`` in its place), the local
folders given as ``extra_policies`` (``--extra-policies DIR``), and the governed repository's
own Rego (``policies/`` or ``engine.extra_policies``) as committed at ``head``, without
``*_test.rego`` files. User packages must be ``ftpolicy.<name>`` with a
name of their own: extending ``ftpolicy.main``, ``ftpolicy.lib`` or a default package could
weaken the defaults, so it is refused.

A full check of more than :data:`~ftpolicy.policy.chunked.CHUNK_MANIFESTS` manifests on the
embedded engine is evaluated in chunks with the same decision (:mod:`ftpolicy.policy.chunked`);
chunk decisions are cached in ``.git/ftpolicy/`` by policy digest and exact input.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftpolicy.errors import ConfigError, EvaluationError, Location, UsageError
from ftpolicy.report.model import Finding, Report, RuleInfo

if TYPE_CHECKING:
    from ftpolicy.git import GitRepo
    from ftpolicy.policy.decision import Decision, Violation
    from ftpolicy.policy.engines import PolicySet
    from ftpolicy.policy.input import PolicyInput

__all__ = ["DEFAULT_PACKAGES", "RULES", "CheckResult", "evaluate_check", "run_check"]

DEFAULT_PACKAGES = frozenset({"adapter", "change", "dataset", "eval", "manifest", "promotion"})
_RESERVED = DEFAULT_PACKAGES | {"main", "lib"}
_LARGE = 2000  # manifests in one document beyond which the embedded engine is slow
_NOW = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")

RULES: dict[str, str] = {
    "dataset/provenance-incomplete": "Provenance is complete: sources, licence, collector, preprocessing.",
    "dataset/untrusted-source": "Untrusted sources need scan and dataset-review attestations.",
    "dataset/licence-not-allowed": "Every source licence is on the configured allowlist.",
    "dataset/immutable-version": "Published dataset versions are never edited, renamed or deleted.",
    "dataset/parent-missing": "A dataset's parent version exists and is valid.",
    "dataset/shard-digest-mismatch": "Local shard files hash to the digests the manifest pins.",
    "eval/categories-missing": "Holdout suites cover the required security categories.",
    "eval/threshold-lowered": "Eval thresholds are not lowered without security-team approval.",
    "eval/threshold-changed": "Eval thresholds are not changed without security-team approval.",
    "eval/items-changed": "Sealed eval items do not change without security-team approval.",
    "adapter/base-model-unpinned": "The base model is pinned to an immutable revision or digest.",
    "adapter/dataset-missing": "Datasets an adapter references exist and are valid.",
    "adapter/unsafe-weight-format": "Adapter weights are safetensors; pickle formats are refused.",
    "adapter/training-config-missing": "The training configuration is pinned by digest.",
    "change/control-plane": "Control-plane files change only with security-team approval.",
    "manifest/invalid": "Manifests touched or referenced by the change are valid.",
    "promotion/chain-unverified": "An adapter's attestation chain verifies before promotion.",
    "promotion/approval-missing": "A security-approval attestation approves the adapter.",
    "promotion/approver-not-security": "The security approver is in the security team.",
    "promotion/separation-of-duties": "The security approver did not train, evaluate quality or author data.",
    "promotion/review-insufficient": "Enough distinct non-author reviewers approved the dataset.",
    "promotion/reviewer-is-author": "Dataset authors do not review their own dataset.",
    "promotion/eval-missing": "Security eval results cover every required category.",
    "promotion/eval-suite-unregistered": "Security evals run a registered holdout suite version.",
    "promotion/eval-below-threshold": "Security eval scores reach the suite thresholds.",
    "promotion/eval-adapter-mismatch": "Security evals ran against this exact adapter digest.",
    "promotion/eval-stale": "Security evals are not older than evals.max_age_days.",
    "promotion/eval-over-refusal": "Over-refusal of benign look-alikes stays within the suite's limit.",
    "promotion/eval-suite-digest-mismatch": "Security evals used exactly the sealed suite items.",
    "promotion/eval-by-trainer": "The security eval is not signed by whoever trained the adapter.",
    "promotion/scan-high-finding": "Scans have no high-severity finding unless waived by security.",
    "promotion/scan-evidence-incomplete": "Scan evidence states its findings (adapter) and counts (dataset).",
    "main/malformed-result": "Policies return {rule, msg, ...} objects.",
    "main/waiver-invalid": "Waivers carry rule, owner, reason and expiry date.",
    "main/waiver-expired": "An expired waiver no longer applies.",
    "main/waiver-not-allowed": "Some rules cannot be waived.",
}
"""Short descriptions of the default rules (SARIF ``tool.driver.rules``)."""


@dataclass(frozen=True)
class CheckResult:
    """Everything a check produced: the input it judged, the decision, the report."""

    input: PolicyInput
    decision: Decision | None  # None when nothing relevant changed and nothing was evaluated
    report: Report


def _user_modules(
    git: GitRepo, head: str, prefix: str, folder: str
) -> tuple[dict[str, str], list[str], list[str]]:
    """The repository's Rego at ``head``: modules, the ftpolicy.* packages to collect, notes."""
    folder = folder.strip("/")
    files = [
        p
        for p in git.list_files(head, prefix + folder)
        if p.endswith(".rego") and not p.endswith("_test.rego")
    ]
    blobs = {p: git.read_blob(head, p) for p in files} if len(files) <= 64 else git.read_blobs(head, files)
    modules: dict[str, str] = {}
    packages: list[str] = []
    notes: list[str] = []
    for full in sorted(files):
        display = full[len(prefix) :]
        raw = blobs[full]
        if raw is None:  # pragma: no cover - listed at head
            continue
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise EvaluationError(
                "policy file is not UTF-8 text", location=Location(display), code="policy.encoding"
            ) from None
        _collect(display, source, packages, notes, "repository policies")
        modules[display] = source
    return modules, sorted(set(packages)), notes


def _collect(display: str, source: str, packages: list[str], notes: list[str], whose: str) -> None:
    """Add the ``ftpolicy.<name>`` package of a user module to ``packages`` (else a note).

    A package of the default library (or ``ftpolicy.main``/``ftpolicy.lib``) is refused: extending
    it could weaken the defaults.
    """
    from ftpolicy.policy.engines._rego_source import LexError, module_package, tokenize

    try:
        found = module_package(tokenize(source))
    except LexError as exc:
        raise EvaluationError(
            f"policy does not parse: {exc.message}",
            location=Location(display, exc.line, exc.col),
            code="policy.compile",
        ) from None
    if found is None:
        raise EvaluationError(
            "policy file has no plain 'package a.b.c' declaration ftpolicy can read",
            hint="start the file with a line such as 'package ftpolicy.acme'",
            location=Location(display, 1),
            code="policy.compile",
        )
    package, line = found
    parts = package.split(".")
    if parts[0] == "ftpolicy" and len(parts) >= 2 and parts[1] in _RESERVED:
        raise ConfigError(
            f"package {package} belongs to ftpolicy's default library; {whose} may not extend it",
            hint="put your rules in a package of your own, e.g. 'package ftpolicy.acme'",
            location=Location(display, line),
            code="policy.reserved-package",
        )
    if parts[0] == "ftpolicy" and len(parts) == 2:
        packages.append(parts[1])
    else:
        notes.append(
            f"{display}: package {package} is not collected directly "
            "(ftpolicy collects deny/warn/exception from packages named ftpolicy.<name>)"
        )


def _finding(pi: PolicyInput, v: Violation, level: str, properties: dict[str, Any] | None = None) -> Finding:
    line = v.line
    if line is None and v.path and v.pointer is not None:
        line = pi.line(v.path, v.pointer)
    return Finding(
        rule_id=v.rule,
        message=v.msg,
        level=level,  # type: ignore[arg-type]
        file=(pi.prefix + v.path) if v.path else None,
        line=line if v.path else None,
        severity=v.severity,
        category=v.package,
        hint=v.hint,
        properties=properties or {},
    )


def _report(
    pi: PolicyInput,
    decision: Decision | None,
    *,
    engine: str,
    policy_digest: str | None,
    fail_on_warn: bool,
    notes: list[str],
) -> Report:
    findings: list[Finding] = []
    if decision is not None:
        for v in decision.violations:
            findings.append(_finding(pi, v, "error"))
        for v in decision.warnings:
            findings.append(_finding(pi, v, "warning"))
        for v, waivers in decision.waived:
            findings.append(
                _finding(pi, v, "note", {"waived": True, "waivers": [w.to_dict() for w in waivers]})
            )
    failed = decision is not None and (
        bool(decision.violations) or (fail_on_warn and bool(decision.warnings))
    )
    rules = {rid: RuleInfo(rid, RULES.get(rid, rid)) for rid in sorted({f.rule_id for f in findings})}
    summary: dict[str, Any] = {
        "mode": pi.mode,
        "head": pi.head,
        "base": pi.base,
        "repository": pi.prefix.rstrip("/") or ".",
        "engine": engine,
        "subjects": len(pi.subjects),
        "changed": len(pi.changed),
        "deny": len(decision.violations) if decision else 0,
        "warn": len(decision.warnings) if decision else 0,
        "waived": len(decision.waived) if decision else 0,
        "evaluated": decision is not None,
    }
    if policy_digest:
        summary["policy_digest"] = policy_digest
    return Report(
        kind="check",
        status="fail" if failed else "pass",
        findings=findings,
        summary=summary,
        rules=rules,
        notes=notes,
    )


def _library(policies: Path | None, extra: Sequence[Path] = ()) -> tuple[PolicySet, list[str], list[str]]:
    """The policy library (bundled, or ``policies`` in its place) plus the ``extra`` folders.

    Returns the set, the ``ftpolicy.<name>`` packages of the extra folders' modules, and notes.
    """
    from ftpolicy.policy.engines import load_policy_set
    from ftpolicy.resources import policies_dir

    base = [Path(policies) if policies is not None else policies_dir()]
    library = load_policy_set(base)
    if not extra:
        return library, [], []
    combined = load_policy_set([*base, *(Path(e) for e in extra)])
    packages: list[str] = []
    notes: list[str] = []
    for name in sorted(set(combined.modules) - set(library.modules)):
        _collect(name, combined.modules[name], packages, notes, "extra policy folders")
    added = len(combined.modules) - len(library.modules)
    notes.append(f"with {added} policy module(s) from --extra-policies ({', '.join(map(str, extra))})")
    return combined, sorted(set(packages)), notes


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _decide(
    eng: Any, engine: str, policy_set: PolicySet, pi: PolicyInput, root: Path, notes: list[str]
) -> Any:
    """The raw decision: one query, or chunks of a large full check on the embedded engine."""
    from ftpolicy.policy.chunked import (
        CHUNK_MANIFESTS,
        chunk_digest,
        evaluate_in_workers,
        merge_decisions,
        split_input,
    )
    from ftpolicy.policy.decision import DECISION_QUERY

    subjects = sum(1 for m in pi.document["manifests"] if m["subject"])
    if engine != "embedded" or pi.mode != "full" or subjects <= CHUNK_MANIFESTS:
        return eng.query(policy_set, DECISION_QUERY, pi.document)
    from ftpolicy.policy._cache import DecisionCache

    chunks = split_input(pi.document, pi.subjects, CHUNK_MANIFESTS)
    cache = DecisionCache(root)
    version = eng.version()
    # Without a cache (FTPOLICY_CACHE=0) no chunk is looked up, so none is hashed either.
    keys = [
        DecisionCache.key_for(version, chunk_digest(policy_set.digest, c)) if cache.enabled else str(i)
        for i, c in enumerate(chunks)
    ]
    raws: list[Any] = [cache.get(k) for k in keys]
    missing = [i for i, raw in enumerate(raws) if raw is None]
    hits = len(chunks) - len(missing)
    workers = min(_cpus(), len(missing), 8)
    found = None
    if workers >= 2 and os.environ.get("FTPOLICY_JOBS") != "1":
        found = evaluate_in_workers(policy_set, chunks, missing, workers)
    for i in missing:
        raws[i] = found[i] if found is not None else eng.query(policy_set, DECISION_QUERY, chunks[i])
        cache.put(keys[i], raws[i])
    cache.save(keep=set(keys))
    notes.append(
        f"evaluated in {len(chunks)} chunks of at most {CHUNK_MANIFESTS} manifests"
        + (
            f" ({hits} decided earlier with the same policies and input, from the decision cache)"
            if hits
            else ""
        )
    )
    return merge_decisions(raws)


def evaluate_check(
    repo: Path | None = None,
    *,
    base: str | None = None,
    head: str = "HEAD",
    engine: str = "embedded",
    opa_url: str | None = None,
    opa_token: str | None = None,
    policies: Path | None = None,
    extra_policies: Sequence[Path] = (),
    now: str | None = None,
    fail_on_warn: bool = False,
) -> CheckResult:
    """Run a check and return the input, the decision and the report (see :func:`run_check`)."""
    from ftpolicy.git import GitRepo
    from ftpolicy.manifest import find_repo_root
    from ftpolicy.policy.decision import parse_decision
    from ftpolicy.policy.engines import get_engine
    from ftpolicy.policy.input import build_input

    if now is not None and not _NOW.fullmatch(now):
        raise UsageError(
            f"invalid check time {now!r}",
            hint="give an RFC 3339 UTC time such as 2026-11-28T12:00:00Z (FTPOLICY_NOW)",
            code="usage.now",
        )
    root = Path(repo) if repo is not None else find_repo_root(Path.cwd())
    # A missing --policies / --extra-policies folder is an error before any Git work.
    library, extra_packages, extra_notes = _library(policies, extra_policies)
    with GitRepo.open(root) as git:
        pi = build_input(git, root=root, head=head, base=base, now=now)
        notes = [*pi.notes]
        where = pi.prefix.rstrip("/") or "the repository"
        if pi.mode == "diff" and not pi.changed:
            notes.append(f"nothing relevant changed: no file under {where} differs from {base}")
            report = _report(
                pi, None, engine=engine, policy_digest=None, fail_on_warn=fail_on_warn, notes=notes
            )
            return CheckResult(pi, None, report)
        folder = pi.document["config"]["engine"]["extra_policies"]
        modules, packages, module_notes = _user_modules(git, pi.head, pi.prefix, folder)
        from ftpolicy.promotion import add_chain_facts

        notes.extend(add_chain_facts(git, root, pi.head, pi.prefix, pi.document))  # adapters, registry
    notes.extend(module_notes)
    notes.extend(extra_notes)
    policy_set = library.with_modules(modules) if modules else library
    pi.document["policy"]["packages"] = sorted({*packages, *extra_packages})
    if pi.mode == "diff":
        kinds = sum(1 for m in pi.document["manifests"] if m["subject"])
        notes.append(f"checked {kinds} changed manifest(s) of {len(pi.changed)} changed path(s) since {base}")
    else:
        notes.append(f"checked all {len(pi.subjects)} manifest(s) at {head}")
    if modules:
        notes.append(f"with {len(modules)} policy module(s) from the repository ({folder}/)")
    eng = get_engine(engine, opa_url=opa_url, token=opa_token)
    try:
        raw = _decide(eng, engine, policy_set, pi, root, notes)
        engine_name = eng.version()
    except EvaluationError as exc:
        if engine == "embedded" and len(pi.document["manifests"]) > _LARGE:
            # regopy 1.5 slows down with the size of the input and fails without a message on
            # full checks of about ten thousand manifests; OPA does not.
            exc.hint = (exc.hint + "; " if exc.hint else "") + (
                f"this check has {len(pi.document['manifests'])} manifests: for full checks of large "
                "repositories use --engine opa, or check only what changed with --base"
            )
        raise
    finally:
        eng.close()
    decision = parse_decision(raw)
    report = _report(
        pi,
        decision,
        engine=engine_name,
        policy_digest=policy_set.digest,
        fail_on_warn=fail_on_warn,
        notes=notes,
    )
    return CheckResult(pi, decision, report)


def run_check(
    repo: Path | None = None,
    *,
    base: str | None = None,
    head: str = "HEAD",
    engine: str = "embedded",
    opa_url: str | None = None,
    opa_token: str | None = None,
    policies: Path | None = None,
    extra_policies: Sequence[Path] = (),
    now: str | None = None,
    fail_on_warn: bool = False,
) -> Report:
    """Evaluate the policies on ``repo`` (a governed repository folder; default: found from the cwd).

    With ``base``: only what ``head`` changed since it left ``base``, plus the manifests that
    references; without: every manifest at ``head``. Returns a report whose status is ``fail``
    when anything was denied (or warned, with ``fail_on_warn``). Raises
    :class:`~ftpolicy.errors.EvaluationError` when no decision could be made.
    """
    return evaluate_check(
        repo,
        base=base,
        head=head,
        engine=engine,
        opa_url=opa_url,
        opa_token=opa_token,
        policies=policies,
        extra_policies=extra_policies,
        now=now,
        fail_on_warn=fail_on_warn,
    ).report
