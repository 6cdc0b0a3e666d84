"""``ftpolicy audit replay``: re-verify what the registry served at a past revision, from Git alone.

For a revision REV, :func:`replay` reads the governed repository as committed in REV
(:class:`~ftpolicy.audit.view.GitRevisionView`, no checkout, bare clones work), finds every
adapter version in a channel of ``registry/<adapter>.yaml`` at REV, and re-verifies each
with what REV holds: the signed layout, ``identities/`` (key validity at each link's signing
time), the links and their artifact rules, the evidence digests, the revocations, and the
promotion policies (the bundled library plus the repository's ``policies/`` at REV, with
REV's ``ftpolicy.yaml``). The clock is the committer time of REV, never the wall clock, so
the same inputs give the same result.

Artifacts (adapter weights, dataset shards) are often kept out of Git. Those that REV
commits are re-hashed; with ``artifacts`` (a folder of repository-relative files) the
missing ones are re-hashed from there; the rest are reported as
``not re-hashed (not in Git)`` instead of failing.

With ``policies_from`` (e.g. ``HEAD``) the same document is also judged under the
``policies/`` and ``ftpolicy.yaml`` of that other revision: violations the later policies
add are *policy drift* (``newly_denied``). Drift is reported; it does not change the exit
status, which is about REV.
"""

from __future__ import annotations

import copy
import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftpolicy.audit.view import GitRevisionView, materialize
from ftpolicy.errors import FtpolicyError, UsageError

REPLAY_VERSION = "ftpolicy/audit-replay/v1"
NOT_IN_GIT = "not re-hashed (not in Git)"


@dataclass(frozen=True)
class Target:
    """One adapter version to replay and the channels that served it at REV."""

    name: str
    version: str
    channels: tuple[str, ...]
    digest: str | None  # the digest the registry recorded for it


@dataclass
class AdapterReplay:
    """The replayed verification of one adapter version."""

    name: str
    version: str
    channels: tuple[str, ...]
    registry_digest: str | None
    chain: dict[str, Any]
    failures: list[dict[str, Any]]
    not_rehashed: list[str]
    policy: dict[str, Any] | None
    drift: dict[str, Any] | None = None

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    @property
    def ok(self) -> bool:
        """The chain verified and the policies of REV allowed it."""
        return not self.failures and bool(self.policy and self.policy.get("allow"))

    def to_dict(self) -> dict[str, Any]:
        """Stable machine form."""
        return {
            "adapter": self.ref,
            "channels": list(self.channels),
            "registry_digest": self.registry_digest,
            "ok": self.ok,
            "chain": self.chain,
            "failures": self.failures,
            "not_rehashed": self.not_rehashed,
            "policies": self.policy,
            "drift": self.drift,
        }


@dataclass
class ReplayResult:
    """Everything :func:`replay` found at one revision."""

    rev: str
    commit_time: str
    policies_from: str | None
    adapters: list[AdapterReplay] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)  # unreadable registry files

    @property
    def ok(self) -> bool:
        """No registry problem and every adapter replayed clean."""
        return not self.problems and all(a.ok for a in self.adapters)

    def to_dict(self) -> dict[str, Any]:
        """The ``--format json`` document (``ftpolicy/audit-replay/v1``)."""
        return {
            "version": REPLAY_VERSION,
            "rev": self.rev,
            "now": self.commit_time,
            "policies_from": self.policies_from,
            "ok": self.ok,
            "problems": self.problems,
            "adapters": [a.to_dict() for a in self.adapters],
        }

    def render_text(self) -> str:
        """Human summary, one block per adapter version."""
        lines = [f"audit replay at {self.rev[:12]} (now = {self.commit_time})"]
        if self.policies_from:
            lines.append(f"policy drift against the policies of {self.policies_from[:12]}")
        for p in self.problems:
            lines.append(f"  problem: {p['path']}: {p['message']}")
        if not self.adapters:
            lines.append("  no adapter version is in a registry channel at this revision")
        for a in self.adapters:
            verdict = "PASS" if a.ok else "FAIL"
            lines.append(f"{verdict} {a.ref} (channels: {', '.join(a.channels) or 'none'})")
            for step in a.chain.get("steps", []):
                who = ", ".join(step["identities"]) or "nobody"
                lines.append(f"    {step['name']} [{step['subject']}]: {who}")
            for f in a.failures:
                lines.append(f"    chain: {f['code']}: {f['message']}")
            for n in a.not_rehashed:
                lines.append(f"    {n}")
            if a.policy is not None:
                allow = "allow" if a.policy.get("allow") else "deny"
                lines.append(f"    policies at {self.rev[:12]}: {allow}")
                for v in a.policy.get("deny", []):
                    lines.append(f"      deny {v['rule']}: {v['msg']}")
            if a.drift is not None:
                newly = a.drift["newly_denied"]
                state = "would now be denied" if newly else "no drift"
                lines.append(f"    policies at {str(a.drift['rev'])[:12]}: {state}")
                for v in newly:
                    lines.append(f"      now denied {v['rule']}: {v['msg']}")
        lines.append("result: " + ("pass" if self.ok else "fail"))
        return "\n".join(lines) + "\n"

    def to_report(self) -> Any:
        """Chain failures (``verify/<code>``), policy denials and drift as a report (SARIF)."""
        from ftpolicy.report.model import Finding, Report, RuleInfo

        findings: list[Finding] = []
        for p in self.problems:
            findings.append(Finding("audit/registry-invalid", p["message"], file=p["path"], severity="high"))
        for a in self.adapters:
            props = {"adapter": a.ref, "rev": self.rev}
            for f in a.failures:
                findings.append(
                    Finding(
                        f"verify/{f['code']}",
                        f"{a.ref}: {f['message']}",
                        file=f.get("path"),
                        severity="high",
                        category="attestation",
                        properties=props,
                    )
                )
            for v in (a.policy or {}).get("deny", []):
                findings.append(
                    Finding(
                        v["rule"],
                        f"{a.ref}: {v['msg']}",
                        file=v.get("path"),
                        severity="high",
                        properties=props,
                    )
                )
            for v in (a.drift or {}).get("newly_denied", []):
                findings.append(
                    Finding(
                        "audit/policy-drift",
                        f"{a.ref}: now denied by {v['rule']}: {v['msg']}",
                        level="warning",
                        file=v.get("path"),
                        severity="medium",
                        properties=props,
                    )
                )
        rules = {f.rule_id: RuleInfo(f.rule_id, f"audit replay: {f.rule_id}") for f in findings}
        return Report(
            kind="audit-replay",
            status="pass" if self.ok else "fail",
            findings=findings,
            summary={"rev": self.rev, "now": self.commit_time, "adapters": len(self.adapters)},
            rules=rules,
        )


def registry_targets(view: GitRevisionView, scratch: Path) -> tuple[list[Target], list[dict[str, Any]]]:
    """Adapter versions in any channel of ``registry/*.yaml`` at the view's revision."""
    from ftpolicy.manifest import check_manifest

    found: dict[tuple[str, str], Target] = {}
    problems: list[dict[str, Any]] = []
    for rel in view.list("registry"):
        if rel.count("/") != 1 or not rel.endswith(".yaml"):
            continue
        data = view.read(rel) or b""
        manifest, errs = check_manifest(rel, data, kind="registry", root=scratch)
        if errs:
            problems.append({"path": rel, "message": errs[0].message, "code": errs[0].code})
            continue
        doc = manifest.data
        for channel, entry in sorted((doc.get("channels") or {}).items()):
            if not entry:
                continue
            key = (str(doc["adapter"]), str(entry["version"]))
            prev = found.get(key)
            chans = (*prev.channels, channel) if prev else (channel,)
            found[key] = Target(key[0], key[1], chans, str(entry.get("digest")))
    return [found[k] for k in sorted(found)], problems


def _config_at(root: Path) -> dict[str, Any]:
    from ftpolicy.errors import ConfigError
    from ftpolicy.manifest import CONFIG_FILE, check_manifest
    from ftpolicy.policy.input import config_with_defaults

    path = root / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{CONFIG_FILE} is missing at this revision", code="config.missing")
    manifest, problems = check_manifest(CONFIG_FILE, path.read_bytes(), kind="config", root=root)
    if problems:
        raise ConfigError(problems[0].message, code="config.invalid")
    return config_with_defaults(manifest.data)


def _policy_dirs(root: Path) -> list[Path]:
    from ftpolicy.resources import policies_dir

    repo = root / "policies"
    has_rego = repo.is_dir() and any(repo.rglob("*.rego"))
    return [policies_dir(), repo] if has_rego else [policies_dir()]


class _Judge:
    """One policy set and engine, reused for every adapter of a replay."""

    def __init__(self, root: Path, engine: str, opa_url: str | None, opa_token: str | None) -> None:
        from ftpolicy.policy.engines import get_engine, load_policy_set

        self.policy_set = load_policy_set(_policy_dirs(root))
        self.config = _config_at(root)
        self.engine = get_engine(engine, opa_url=opa_url, token=opa_token)

    def decide(self, document: dict[str, Any]) -> dict[str, Any]:
        from ftpolicy.policy.decision import DECISION_QUERY, parse_decision

        doc = dict(document, config=self.config)
        d = parse_decision(self.engine.query(self.policy_set, DECISION_QUERY, doc))
        return {
            "evaluated": True,
            "allow": d.allowed,
            "deny": [v.to_dict() for v in d.violations],
            "warn": [v.to_dict() for v in d.warnings],
        }

    def close(self) -> None:
        self.engine.close()


def _copy_local(artifacts: Path | None, snap: Path, paths: list[str]) -> None:
    """Copy local artifacts that the revision does not commit into the scratch snapshot."""
    if artifacts is None:
        return
    for rel in paths:
        src, dst = artifacts / rel, snap / rel
        if ".." in Path(rel).parts or dst.exists() or not src.is_file():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)


def _listed_files(snap: Path, target: Target) -> list[str]:
    """Adapter files and dataset shards the manifests at REV list (for local re-hashing)."""
    from ftpolicy.manifest import load_manifest

    out: list[str] = []
    try:
        adapter = load_manifest(snap, f"adapters/{target.name}/{target.version}.yaml").data
    except FtpolicyError:
        return out
    out += [str(f["path"]) for f in adapter.get("files") or [] if isinstance(f, dict) and "path" in f]
    for ref in adapter.get("datasets") or []:
        name, _, version = str(ref).partition("@")
        try:
            ds = load_manifest(snap, f"datasets/{name}/{version}.yaml").data
        except FtpolicyError:
            continue
        out += [str(s["path"]) for s in ds.get("shards") or [] if isinstance(s, dict) and "path" in s]
    return out


def _last_step(snap: Path) -> str | None:
    """The last step of the signed layout at REV (None when it cannot be read).

    Verifying "until" the last step runs in-toto's step and artifact-rule checks without
    its own layout-expiry check, which reads the wall clock; ftpolicy checks signature and
    expiry itself at ``now`` = the commit time of REV, so a layout that expired after REV
    does not fail a replay of REV. (Inspections are dropped; ftpolicy layouts have none.)
    """
    from ftpolicy.attest.layout import load_settings, load_signed_layout

    try:
        _md, layout, _rel = load_signed_layout(snap, load_settings(snap).path)
    except FtpolicyError:
        return None
    return str(layout.steps[-1].name) if layout.steps else None


def _replay_one(
    snap: Path,
    target: Target,
    in_git: set[str],
    now: dt.datetime,
    sha: str,
    gated: set[str],
    judge: _Judge,
    drift: _Judge | None,
    drift_rev: str | None,
) -> AdapterReplay:
    from ftpolicy.attest import Subject
    from ftpolicy.attest.verify import verify_chain
    from ftpolicy.identities import format_time
    from ftpolicy.promotion import promotion_input

    subject = Subject("adapter", target.name, target.version)
    until = _last_step(snap) if gated & set(target.channels) else "security-approval"
    facts = verify_chain(snap, subject, snap, until=until, now=now)
    not_rehashed: list[str] = []
    kept = []
    for f in facts.failures:
        if f.code == "artifact-missing" and f.path and f.path not in in_git:
            not_rehashed.append(f"{f.path}: {NOT_IN_GIT}")
        else:
            kept.append(f)
    facts.failures = kept
    not_rehashed += [f"{p}: {NOT_IN_GIT}" for p in facts.dataset_files_absent if p not in in_git]
    digest = facts.adapter_digest
    if target.digest and digest and digest != target.digest:
        facts.fail(
            "registry-digest",
            f"registry records {target.digest} for {target.name}@{target.version}, the chain {digest}",
            path=f"registry/{target.name}.yaml",
        )
    document = promotion_input(snap, facts, now=format_time(now))
    document["git"]["head"] = sha
    policy = judge.decide(document)
    drift_out = None
    if drift is not None:
        later = drift.decide(document)
        before = {(v["rule"], v["msg"]) for v in policy["deny"]}
        drift_out = {
            "rev": drift_rev,
            "allow": later["allow"],
            "deny": later["deny"],
            "newly_denied": [v for v in later["deny"] if (v["rule"], v["msg"]) not in before],
        }
    chain = facts.to_dict()
    for key in ("failures", "policies"):
        chain.pop(key, None)
    return AdapterReplay(
        name=target.name,
        version=target.version,
        channels=target.channels,
        registry_digest=target.digest,
        chain=chain,
        failures=[
            f.to_dict() for f in sorted(facts.failures, key=lambda f: (f.code, f.path or "", f.message))
        ],
        not_rehashed=sorted(not_rehashed),
        policy=policy,
        drift=drift_out,
    )


def _failure_key(f: Any) -> tuple[str, str, str]:
    return (f.code, f.path or "", f.message)


def _split_adapter(spec: str) -> tuple[str, str | None]:
    name, _, version = spec.partition("@")
    if not name:
        raise UsageError(f"--adapter {spec!r}: expected NAME or NAME@VERSION", code="audit.adapter")
    return name, version or None


def replay(
    repo: Path,
    rev: str = "HEAD",
    *,
    adapter: str | None = None,
    policies_from: str | None = None,
    artifacts: Path | None = None,
    engine: str = "embedded",
    opa_url: str | None = None,
    opa_token: str | None = None,
) -> ReplayResult:
    """Replay the verification of every adapter version in a registry channel at ``rev``.

    ``adapter`` (``NAME`` or ``NAME@VERSION``) narrows the set; a ``NAME@VERSION`` that is in
    no channel is verified anyway. ``engine`` is ``embedded`` or ``opa`` (a server at
    ``opa_url``, bearer ``opa_token``). Raises :class:`~ftpolicy.errors.FtpolicyError` when the
    revision cannot be read or its configuration/policies are unusable.
    """
    from ftpolicy.git import GitRepo
    from ftpolicy.identities import format_time, parse_time
    from ftpolicy.registry.ops import load_settings

    with GitRepo.open(repo) as git, tempfile.TemporaryDirectory(prefix="ftpolicy-replay-") as tmp:
        view = GitRevisionView(git, rev)
        sha = view.rev
        now = parse_time(git.commit_info(sha).committer_time, where=f"commit {sha[:12]}")
        snap = Path(tmp) / "rev"
        in_git = set(materialize(view, snap))
        targets, problems = registry_targets(view, snap)
        if adapter is not None:
            name, version = _split_adapter(adapter)
            chosen = [t for t in targets if t.name == name and version in (None, t.version)]
            if not chosen and version is not None:
                chosen = [Target(name, version, (), None)]
            targets = chosen
        drift_rev = git.rev_parse(policies_from) if policies_from else None
        if not targets:  # nothing served at REV (perhaps not even an ftpolicy.yaml yet)
            return ReplayResult(sha, format_time(now), drift_rev, problems=problems)
        gated = set(load_settings(snap).gated)
        judge = _Judge(snap, engine, opa_url, opa_token)
        drift: _Judge | None = None
        try:
            if drift_rev is not None:
                later = Path(tmp) / "policies-from"
                materialize(GitRevisionView(git, drift_rev), later, ("ftpolicy.yaml", "policies"))
                drift = _Judge(later, engine, opa_url, opa_token)
            result = ReplayResult(sha, format_time(now), drift_rev, problems=problems)
            for target in targets:
                _copy_local(artifacts, snap, _listed_files(snap, target))
                result.adapters.append(
                    _replay_one(snap, target, in_git, now, sha, gated, judge, drift, drift_rev)
                )
        finally:
            judge.close()
            if drift is not None:
                drift.close()
    return result


def render(result: ReplayResult, fmt: str) -> str:
    """``text``, ``json`` (sorted keys) or ``sarif``."""
    import json

    if fmt == "json":
        return json.dumps(copy.deepcopy(result.to_dict()), indent=2, sort_keys=True) + "\n"
    if fmt == "sarif":
        from ftpolicy.report.formats import render_sarif

        return render_sarif(result.to_report())
    return result.render_text()
