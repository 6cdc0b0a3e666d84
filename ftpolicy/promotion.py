"""Promotion policies on verified attestation facts (package ``ftpolicy.promotion``).

:func:`chain_policy_facts` turns a :class:`~ftpolicy.attest.verify.ChainFacts` into the two
sections the policy input document carries about attestations:

``attestations``
    one entry per link of a chain that verified as a whole:
    ``{subject, step, verified, identity, teams, signer, time, link, evidence}``. A chain with
    any failure contributes none (never a half fact).
``chains``
    one entry per judged adapter: ``{subject, dataset, manifest, verified, adapter_digest,
    failures[]}``; the ``promotion/chain-unverified`` rule denies with each failure.

:func:`evaluate_promotion` builds a document of mode ``verify`` around them (the adapter,
dataset and eval-suite manifests from the work tree as context, ``ftpolicy.yaml`` with its
defaults) and asks the chosen engine for ``data.ftpolicy.main.decision``.
:func:`add_chain_facts` does the same for the pull-request gate: it verifies, at ``head``,
the chains of the adapters a change touches and adds their facts to the check's document.

>>> facts = verify_chain(root, "adapter:bot@1.0")                          # doctest: +SKIP
>>> result = evaluate_promotion(root, facts)                                # doctest: +SKIP
>>> result.decision.allowed, [v.rule for v in result.decision.violations]   # doctest: +SKIP
(False, ['promotion/eval-stale'])

Control-plane changes: ``change/control-plane`` is unchanged (a change to ftpolicy.yaml,
identities/, layouts/ or policies/ is denied in the pull request; approving it is a branch
protection / CODEOWNERS matter for the security team), see the report of issue 4.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftpolicy.errors import FtpolicyError

if TYPE_CHECKING:
    from ftpolicy.attest.verify import ChainFacts
    from ftpolicy.git import GitRepo
    from ftpolicy.policy.decision import Decision
    from ftpolicy.report.model import Report

__all__ = [
    "PromotionResult",
    "add_chain_facts",
    "chain_policy_facts",
    "evaluate_promotion",
    "promotion_input",
    "promotion_report",
]

_EVAL_STEPS = ("security-eval", "quality-eval")


@dataclass(frozen=True)
class PromotionResult:
    """The promotion decision on one chain (``decision`` None when nothing was evaluated)."""

    decision: Decision | None
    engine: str
    document: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def allowed(self) -> bool:
        """True when the policies were evaluated and denied nothing."""
        return self.decision is not None and self.decision.allowed

    def to_dict(self) -> dict[str, Any]:
        """The ``policies`` section of ``ftpolicy verify --format json``."""
        if self.decision is None:
            return {"evaluated": False, "engine": self.engine}
        d = self.decision
        return {
            "evaluated": True,
            "engine": self.engine,
            "allow": d.allowed,
            "deny": [v.to_dict() for v in d.violations],
            "warn": [v.to_dict() for v in d.warnings],
            "waived": [
                {"violation": v.to_dict(), "waivers": [w.to_dict() for w in ws]} for v, ws in d.waived
            ],
        }


def chain_policy_facts(
    facts: ChainFacts, manifest: str | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``(attestations, chain)`` for the policy input, from :meth:`ChainFacts.to_policy_input`.

    The attestations are empty unless the whole chain verified.
    """
    attestations: list[dict[str, Any]] = []
    if facts.ok:
        for subject, entry in facts.to_policy_input().items():
            for step, links in entry["steps"].items():
                for a in links:
                    attestations.append(
                        {
                            "subject": subject,
                            "step": step,
                            "verified": True,
                            "identity": a["identity"],
                            "teams": list(a["teams"]),
                            "signer": a["signer"],
                            "time": a["time"],
                            "link": a["link"],
                            "evidence": a["evidence"],
                        }
                    )
    chain = {
        "subject": facts.subject,
        "dataset": facts.dataset,
        "manifest": manifest or _manifest_rel(facts.subject),
        "verified": facts.ok,
        "adapter_digest": facts.adapter_digest if facts.ok else None,
        "failures": [f.to_dict() for f in facts.failures],
    }
    return attestations, chain


def _manifest_rel(subject: str) -> str:
    kind, _, ref = subject.partition(":")
    name, _, version = ref.partition("@")
    return f"{kind}s/{name}/{version}.yaml"


def _suites_named(attestations: Iterable[dict[str, Any]]) -> list[str]:
    """``evals/NAME/VERSION.yaml`` of the suites the verified eval evidence names."""
    out = set()
    for a in attestations:
        data = (a.get("evidence") or {}).get("data") if a["step"] in _EVAL_STEPS else None
        suite = data.get("suite") if isinstance(data, dict) else None
        if not isinstance(suite, dict):
            continue
        name, version = suite.get("name"), suite.get("version")
        if isinstance(name, str) and isinstance(version, str) and "/" not in name + version:
            out.add(f"evals/{name}/{version}.yaml")
    return sorted(out)


def _context_manifests(
    root: Path, rels: Iterable[str], have: set[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Manifests (subject false) read from the work tree under ``root``, and the problems of invalid ones."""
    from ftpolicy.manifest import check_manifest

    manifests: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    for rel in rels:
        if rel in have or not (root / rel).is_file():
            continue  # absent: the rules that need it say so
        try:
            m, found = check_manifest(rel, (root / rel).read_bytes(), root=root)
        except FtpolicyError as exc:
            problems.append({"path": rel, "message": exc.message, "code": exc.code})
            continue
        if found:
            problems.extend({"path": rel, "message": p.message, "code": p.code} for p in found[:1])
            continue
        have.add(rel)
        manifests.append({"path": rel, "kind": m.kind, "subject": False, "data": m.data, "lines": {}})
    return manifests, problems


def _config(root: Path) -> dict[str, Any]:
    from ftpolicy.errors import ConfigError
    from ftpolicy.manifest import CONFIG_FILE, check_manifest
    from ftpolicy.policy.input import config_with_defaults

    raw = (root / CONFIG_FILE).read_bytes()
    manifest, problems = check_manifest(CONFIG_FILE, raw, kind="config", root=root)
    if problems:
        raise ConfigError(problems[0].message, code="config.invalid")
    return config_with_defaults(manifest.data)


def _head(root: Path) -> str:
    from ftpolicy.git import GitRepo

    try:
        with GitRepo.open(root) as git:
            return git.rev_parse("HEAD")
    except FtpolicyError:
        return "0" * 40  # not a Git repository (or no commit yet): verify reads the work tree anyway


def promotion_input(root: Path, facts: ChainFacts, *, now: str | None = None) -> dict[str, Any]:
    """The policy input document (mode ``verify``) for the chain ``facts`` of the repository ``root``."""
    from ftpolicy.policy.input import INPUT_SCHEMA, format_now

    attestations, chain = chain_policy_facts(facts)
    rels = [chain["manifest"]]
    if facts.dataset:
        rels.append(_manifest_rel(facts.dataset))
    rels.extend(_suites_named(attestations))
    manifests, problems = _context_manifests(root, rels, set())
    head = _head(root)
    return {
        "schema": INPUT_SCHEMA,
        "now": now or format_now(),
        "mode": "verify",
        "git": {
            "head": head,
            "base": None,
            "merge_base": None,
            "shallow": False,
            "changed": [],
            "commits": [],
        },
        "config": _config(root),
        "identities": {},
        "teams": {},
        "manifests": manifests,
        "problems": problems,
        "shards_verified": [],
        "attestations": attestations,
        "chains": [chain],
        "policy": {"packages": []},
    }


def evaluate_promotion(
    root: Path,
    facts: ChainFacts,
    *,
    engine: str = "embedded",
    opa_url: str | None = None,
    opa_token: str | None = None,
    now: str | None = None,
    policies: Path | None = None,
) -> PromotionResult:
    """Evaluate the default policies (``ftpolicy.promotion`` judges the chain) on ``facts``.

    Raises :class:`~ftpolicy.errors.EvaluationError` when the engine cannot decide (exit 3)
    and :class:`~ftpolicy.errors.ConfigError` for an invalid ``ftpolicy.yaml``.
    """
    from ftpolicy.policy.decision import DECISION_QUERY, parse_decision
    from ftpolicy.policy.engines import get_engine, load_policy_set
    from ftpolicy.resources import policies_dir

    document = promotion_input(root, facts, now=now)
    policy_set = load_policy_set([Path(policies) if policies is not None else policies_dir()])
    eng = get_engine(engine, opa_url=opa_url, token=opa_token)
    try:
        raw = eng.query(policy_set, DECISION_QUERY, document)
        name = eng.version()
    finally:
        eng.close()
    return PromotionResult(parse_decision(raw), name, document)


def promotion_report(facts: ChainFacts, result: PromotionResult | None) -> Report:
    """The chain failures (``verify/<code>``) plus the policy violations as one report (SARIF, GitHub)."""
    from dataclasses import replace

    from ftpolicy.check import RULES
    from ftpolicy.report.model import Finding, RuleInfo

    report = facts.to_report()
    if result is None or result.decision is None:
        return report
    extra = [
        Finding(
            rule_id=v.rule,
            message=v.msg,
            file=v.path,
            severity=v.severity,
            category="promotion",
            hint=v.hint,
        )
        for v in result.decision.violations
        if v.rule != "promotion/chain-unverified"  # each chain failure is a finding already
    ]
    rules = {
        **report.rules,
        **{f.rule_id: RuleInfo(f.rule_id, RULES.get(f.rule_id, f.rule_id)) for f in extra},
    }
    return replace(
        report,
        findings=[*report.findings, *extra],
        rules=rules,
        status="fail" if report.status == "fail" or extra else "pass",
    )


def _export(git: GitRepo, head: str, prefix: str, dest: Path, paths: Iterable[str]) -> None:
    """Write the files and folders ``paths`` (governed-repo-relative) as of ``head`` into ``dest``."""
    files: list[str] = []
    for rel in paths:
        if (dest / rel).exists():
            continue
        listed = git.list_files(head, prefix + rel)
        files.extend(listed if listed else [prefix + rel])
    blobs = git.read_blobs(head, files) if files else {}
    for full, raw in blobs.items():
        if raw is None:
            continue
        target = dest / full[len(prefix) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)


def _export_chain(git: GitRepo, head: str, prefix: str, dest: Path, ref: str) -> None:
    """What ``verify_chain`` reads for adapter ``ref``, as of ``head``: configuration, identities,
    layout, the adapter and dataset manifests and attestations, registry entry, model
    signatures, eval suites. Adapter files and shards are read from the work tree."""
    from ftpolicy.attest.layout import load_settings
    from ftpolicy.attest.subject import Subject
    from ftpolicy.manifest import CONFIG_FILE

    adapter = Subject.parse(f"adapter:{ref}")
    _export(git, head, prefix, dest, [CONFIG_FILE, "identities", "signatures", "evals"])
    wanted = [adapter.manifest_path, adapter.dir, f"registry/{adapter.name}.yaml"]
    with contextlib.suppress(FtpolicyError):  # verify_chain reports a configuration problem
        wanted.append(load_settings(dest).path)
    _export(git, head, prefix, dest, wanted)
    try:
        from ftpolicy.manifest import load_manifest

        refs = load_manifest(dest, adapter.manifest_path).data.get("datasets") or []
    except FtpolicyError:
        refs = []  # verify_chain reports it
    for dref in refs:
        if isinstance(dref, str) and dref.count("@") == 1 and "/" not in dref:
            dataset = Subject("dataset", *dref.split("@"))
            _export(git, head, prefix, dest, [dataset.manifest_path, dataset.dir])


def _touched_adapters(document: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """``(NAME@VERSION, manifest path, named by a registry channel)`` of the adapters the check judges."""
    out: dict[str, tuple[str, bool]] = {}
    for m in document["manifests"]:
        if not m.get("subject"):
            continue
        data = m["data"]
        if m["kind"] == "adapter":
            ref = f"{data['name']}@{data['version']}"
            out[ref] = (m["path"], out.get(ref, ("", False))[1])
        elif m["kind"] == "registry":
            for entry in (data.get("channels") or {}).values():
                if isinstance(entry, dict) and isinstance(entry.get("version"), str):
                    ref = f"{data['adapter']}@{entry['version']}"
                    out[ref] = (f"adapters/{data['adapter']}/{entry['version']}.yaml", True)
    return sorted((ref, path, channel) for ref, (path, channel) in out.items())


def add_chain_facts(git: GitRepo, root: Path, head: str, prefix: str, document: dict[str, Any]) -> list[str]:
    """Verify, at ``head``, the chains of the adapters the check judges; add their facts to ``document``.

    An adapter manifest with no attestation at ``head`` is not judged (it has not been
    attested yet); a registry channel naming a version is always judged. Layout, links,
    identities, evidence and manifests come from Git at ``head``; adapter files and shards
    from the work tree (``root``). Returns notes for the report.
    """
    from ftpolicy.attest.subject import ATTESTATIONS_DIR, Subject
    from ftpolicy.attest.verify import ChainFacts, verify_chain

    touched = _touched_adapters(document)
    document.setdefault("attestations", [])
    document.setdefault("chains", [])
    if not touched:
        return []
    notes: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="ftpolicy-chain-"))
    try:
        have = {m["path"] for m in document["manifests"]}
        # One listing of every adapter's attestation folder instead of one per adapter.
        attested = {
            path.rsplit("/", 1)[0] for path in git.list_files(head, f"{prefix}{ATTESTATIONS_DIR}/adapter")
        }
        for ref, manifest, in_channel in touched:
            subject = Subject.parse(f"adapter:{ref}")
            folder = prefix + subject.dir
            has_links = any(d == folder or d.startswith(folder + "/") for d in attested)
            if not has_links and not in_channel:
                notes.append(f"{ref}: no attestations at head, promotion policies not applied")
                continue
            try:
                _export_chain(git, head, prefix, tmp, ref)
                facts = verify_chain(tmp, subject, root)
            except FtpolicyError as exc:  # could not start (invalid identities, layout settings)
                facts = ChainFacts(subject=str(subject), dataset=None)
                facts.fail("verify-error", exc.message)
            attestations, chain = chain_policy_facts(facts, manifest)
            document["attestations"].extend(attestations)
            document["chains"].append(chain)
            rels = [_manifest_rel(facts.dataset)] if facts.dataset else []
            rels.extend(_suites_named(attestations))
            extra, problems = _context_manifests(tmp, rels, have)
            document["manifests"].extend(extra)
            document["problems"].extend(problems)
            state = "verified" if facts.ok else f"does not verify ({len(facts.failures)} failure(s))"
            notes.append(f"attestation chain of {ref} at head {state}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return notes
