"""Promote, roll back and revoke adapter versions in ``registry/<adapter>.yaml``.

Each operation runs under the registry lock (:func:`ftpolicy.registry.store.locked`),
identifies the actor by the key it is given (a key of an identity in ``identities/``),
checks the registry policies and appends one history entry (who, when, from which
commit, which attestation authorised it). Refusals raise
:class:`~ftpolicy.registry.store.RegistryError` with a stable ``code``:

=============================  ===================================================
``registry.unknown-channel``    the channel is not in ``ftpolicy.yaml`` ``registry.channels``
``registry.unknown-key``        the key belongs to no identity (or is not valid now)
``registry.not-publisher``      only ``publishers`` may change a gated channel (production)
``registry.promoter-is-trainer`` the identity that trained the adapter may not promote it
``registry.staging-required``   a gated channel needs the version in the channel before it
``registry.revoked``            the version was revoked
``registry.unverifiable``       ``verify`` of the chain (up to security-approval) failed
``registry.policy-denied``      promote to production or a gated channel: the promotion policies
                                (what ``verify`` evaluates) deny the verified chain: security eval
                                below threshold, of an unregistered suite version, stale, ...
``registry.no-previous``        nothing to roll back to
``registry.already-revoked``    revoking twice
=============================  ===================================================

Attestation: a promotion to a gated channel (``require_staging_before``, e.g.
production) emits the signed in-toto ``promote`` link with ``evidence-promotion``
evidence through :func:`ftpolicy.attest.attest_step`; the history entry names it.
Promotions to other channels and rollbacks are recorded in the history (in Git) only.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftpolicy.identities import format_time, load_keyring, utcnow
from ftpolicy.registry.store import RegistryError, load_registry, locked, registry_rel, write_registry

GATE_TEAM_ROLE = "publishers"
REVOKE_ROLES = ("security", "publishers")


@dataclass(frozen=True)
class RegistrySettings:
    """``ftpolicy.yaml`` ``registry`` and ``teams`` values the operations need."""

    channels: list[str]
    gated: list[str]
    teams: dict[str, str]

    def before(self, channel: str) -> str:
        """The channel a gated channel needs first (the one listed before it; default staging)."""
        if channel in self.channels and self.channels.index(channel) > 0:
            return self.channels[self.channels.index(channel) - 1]
        return "staging"


@dataclass(frozen=True)
class Outcome:
    """What an operation changed."""

    action: str
    adapter: str
    version: str
    channel: str | None
    previous: str | None
    registry_path: str
    attestation: str | None
    entry: dict[str, Any]
    commit: str | None = None


def load_settings(root: Path) -> RegistrySettings:
    """Registry settings from ``ftpolicy.yaml`` (channels default to staging, production)."""
    from ftpolicy.attest.layout import DEFAULT_TEAMS
    from ftpolicy.manifest import load_manifest

    data = load_manifest(root, "ftpolicy.yaml").data
    reg = data.get("registry") or {}
    teams = dict(DEFAULT_TEAMS)
    teams.update({k: str(v) for k, v in (data.get("teams") or {}).items()})
    channels = list(reg.get("channels") or ["staging", "production"])
    gated = list(reg.get("require_staging_before") or [])
    return RegistrySettings(channels, gated, teams)


def _git_head(root: Path) -> str | None:
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "HEAD^{commit}"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    out = proc.stdout.strip()
    return out if proc.returncode == 0 and len(out) == 40 else None


def _actor(root: Path, key_path: Path) -> tuple[Any, str, tuple[str, ...]]:
    from ftpolicy.keys import load_signer

    signer = load_signer(key_path, repo=root)
    ring = load_keyring(root)
    rec = ring.get(signer.public_key.keyid)
    if rec is None:
        raise RegistryError(
            f"{key_path}: key {signer.public_key.keyid[:8]} belongs to no identity in identities/",
            hint="register the public key with `ftpolicy keys add`",
            code="registry.unknown-key",
        )
    status = ring.key_valid_at(rec.keyid, utcnow())
    if not status.ok:
        raise RegistryError(status.message, code="registry.unknown-key")
    info = ring.identities.get(rec.identity)
    return signer, rec.identity, info.teams if info else rec.teams


def _split(ref: str) -> tuple[str, str]:
    from ftpolicy.attest.subject import Subject

    s = Subject.parse(ref if ref.startswith("adapter:") else f"adapter:{ref}")
    return s.name, s.version


def revoked_versions(doc: dict[str, Any]) -> dict[str, str]:
    """``{version: reason}`` of every revoked version in a registry document."""
    return {
        str(e["version"]): str(e.get("reason", ""))
        for e in doc.get("history") or []
        if e["action"] == "revoke"
    }


def is_revoked(root: Path, name: str, version: str) -> str | None:
    """The revocation reason of ``name@version``, or None (also None without a registry file)."""
    if not (root / registry_rel(name)).is_file():
        return None
    return revoked_versions(load_registry(root, name)).get(version)


def _check_channel(settings: RegistrySettings, channel: str) -> None:
    if channel not in settings.channels:
        raise RegistryError(
            f"channel {channel!r} is not configured",
            hint="channels in ftpolicy.yaml registry.channels: " + ", ".join(settings.channels),
            code="registry.unknown-channel",
        )


def _check_gate(settings: RegistrySettings, channel: str, identity: str, teams: tuple[str, ...]) -> None:
    team = settings.teams[GATE_TEAM_ROLE]
    if (channel in settings.gated or channel == "production") and team not in teams:
        raise RegistryError(
            f"{identity} may not change channel {channel}: only members of team {team} may",
            hint=f"ask a member of {team} to run it with their key",
            code="registry.not-publisher",
        )


def _verify(root: Path, name: str, version: str) -> Any:
    from ftpolicy.attest.verify import verify_chain

    facts = verify_chain(root, f"adapter:{name}@{version}", until="security-approval")
    if not facts.ok:
        codes = ", ".join(sorted({f.code for f in facts.failures}))
        first = facts.failures[0]
        raise RegistryError(
            f"{name}@{version} does not verify ({codes}): {first.message}",
            hint=f"see every failure: ftpolicy verify adapter {name}@{version} --until security-approval",
            code="registry.unverifiable",
        )
    return facts


def _check_policies(root: Path, name: str, version: str, facts: Any, now: dt.datetime | None) -> None:
    """The promotion policies (what ``ftpolicy verify`` evaluates) must allow the verified chain.

    An undecidable policy raises :class:`~ftpolicy.errors.EvaluationError` (exit 3), never a pass.
    """
    import os

    from ftpolicy.promotion import evaluate_promotion

    at = format_time(now) if now is not None else os.environ.get("FTPOLICY_NOW") or None
    result = evaluate_promotion(root, facts, now=at)
    if result.allowed:
        return
    violations = result.decision.violations if result.decision is not None else []
    reasons = "; ".join(f"[{v.rule}] {v.msg}" for v in violations) or "no decision"
    raise RegistryError(
        f"{name}@{version} is denied by the promotion policies: {reasons}",
        hint=f"ftpolicy verify adapter {name}@{version} lists the violations with their fixes",
        code="registry.policy-denied",
    )


def _trainers(root: Path, name: str, version: str, facts: Any) -> set[str]:
    from ftpolicy.manifest import load_manifest

    out: set[str] = set()
    data = load_manifest(root, f"adapters/{name}/{version}.yaml").data
    who = (data.get("training") or {}).get("trained_by")
    if who:
        out.add(str(who))
    for step in facts.steps:
        if step.name == "train":
            out.update(step.identities)
    return out


def _entry(doc: dict[str, Any], **fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"seq": len(doc["history"]) + 1}
    entry.update({k: v for k, v in fields.items() if v is not None})
    return entry


def _commit(root: Path, paths: list[str], message: str) -> str:
    subprocess.run(["git", "add", "--", *paths], cwd=root, check=True, capture_output=True)
    proc = subprocess.run(["git", "commit", "-q", "-m", message], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RegistryError(
            f"git commit failed: {proc.stderr.strip() or proc.stdout.strip()}", code="registry.git"
        )
    head = _git_head(root)
    assert head is not None
    return head


def promote(
    root: Path,
    ref: str,
    channel: str,
    key_path: Path,
    *,
    commit: bool = False,
    now: dt.datetime | None = None,
) -> Outcome:
    """Promote adapter ``NAME@VERSION`` to ``channel`` (see the module doc for the checks)."""
    from ftpolicy.attest import Subject, attest_step
    from ftpolicy.attest.evidence import evidence_rel

    name, version = _split(ref)
    settings = load_settings(root)
    _check_channel(settings, channel)
    signer, identity, teams = _actor(root, key_path)
    _check_gate(settings, channel, identity, teams)
    with locked(root):
        old = load_registry(root, name, channels=settings.channels)
        reason = revoked_versions(old).get(version)
        if reason is not None:
            raise RegistryError(f"{name}@{version} was revoked: {reason}", code="registry.revoked")
        if channel in settings.gated:
            first = settings.before(channel)
            if not any(
                e["action"] in ("promote", "rollback")
                and e.get("channel") == first
                and e["version"] == version
                for e in old["history"]
            ):
                raise RegistryError(
                    f"{name}@{version} must be promoted to {first} before {channel}",
                    hint=f"ftpolicy promote {name}@{version} --channel {first}",
                    code="registry.staging-required",
                )
        facts = _verify(root, name, version)
        if identity in _trainers(root, name, version, facts):
            raise RegistryError(
                f"{identity} trained {name}@{version} and may not promote it",
                hint="promotion needs a second person (four-eyes)",
                code="registry.promoter-is-trainer",
            )
        if channel in settings.gated or channel == "production":
            _check_policies(root, name, version, facts, now)
        digest = facts.adapter_digest
        at = format_time(now or utcnow())
        attestation = None
        written: list[str] = []
        if channel in settings.gated:
            subject = Subject("adapter", name, version)
            evidence = {
                "schema_version": 1,
                "kind": "evidence-promotion",
                "subject": str(subject),
                "channel": channel,
                "adapter": {"ref": f"{name}@{version}", "digest": digest},
            }
            link_rel = f"{subject.dir}/promote.{signer.public_key.keyid[:8]}.link"
            if (root / link_rel).exists():
                attestation = link_rel  # this key already attested this release; reuse it
            else:
                approval = evidence_rel(subject, "security-approval")
                with tempfile.TemporaryDirectory(prefix="ftpolicy-promote-") as tmp:
                    ev = Path(tmp) / "promote.json"
                    ev.write_text(json.dumps(evidence, indent=2) + "\n", encoding="utf-8")
                    result = attest_step(
                        root,
                        "promote",
                        subject,
                        signer,
                        materials=[root / p for p in sorted(facts.adapter_files)] + [root / approval],
                        evidence=ev,
                    )
                attestation = result.link_path
                written += [result.link_path] + ([result.evidence_path] if result.evidence_path else [])
        new = json.loads(json.dumps(old))
        previous = (new["channels"].get(channel) or {}).get("version")
        new["channels"][channel] = {"version": version, "digest": digest, "since": at}
        entry = _entry(
            new,
            action="promote",
            version=version,
            channel=channel,
            digest=digest,
            by=identity,
            at=at,
            commit=_git_head(root),
            attestation=attestation,
            previous=previous,
        )
        new["history"].append(entry)
        rel = write_registry(root, name, old, new)
        sha = _commit(root, [rel, *written], f"promote {name}@{version} to {channel}") if commit else None
    return Outcome("promote", name, version, channel, previous, rel, attestation, entry, sha)


def rollback(
    root: Path,
    name: str,
    channel: str,
    key_path: Path,
    *,
    to: str | None = None,
    commit: bool = False,
    now: dt.datetime | None = None,
) -> Outcome:
    """Return ``channel`` to the previous good version (or ``to``), skipping revoked ones."""
    settings = load_settings(root)
    _check_channel(settings, channel)
    _, identity, teams = _actor(root, key_path)
    _check_gate(settings, channel, identity, teams)
    with locked(root):
        old = load_registry(root, name, channels=settings.channels)
        current = (old["channels"].get(channel) or {}).get("version")
        revoked = revoked_versions(old)
        served = [
            e["version"]
            for e in old["history"]
            if e["action"] in ("promote", "rollback") and e.get("channel") == channel
        ]
        if to is not None:
            if to in revoked:
                raise RegistryError(f"{name}@{to} was revoked: {revoked[to]}", code="registry.revoked")
            if to not in served:
                raise RegistryError(
                    f"{name}@{to} was never in {channel}; roll back only to a version it served",
                    code="registry.no-previous",
                )
            target = to
        else:
            candidates = [v for v in reversed(served) if v != current and v not in revoked]
            if not candidates:
                raise RegistryError(
                    f"{channel} of {name} has no earlier good version to return to",
                    code="registry.no-previous",
                )
            target = candidates[0]
        facts = _verify(root, name, target)
        at = format_time(now or utcnow())
        new = json.loads(json.dumps(old))
        new["channels"][channel] = {"version": target, "digest": facts.adapter_digest, "since": at}
        entry = _entry(
            new,
            action="rollback",
            version=target,
            channel=channel,
            digest=facts.adapter_digest,
            by=identity,
            at=at,
            commit=_git_head(root),
            previous=current,
        )
        new["history"].append(entry)
        rel = write_registry(root, name, old, new)
        sha = _commit(root, [rel], f"rollback {name} {channel} to {target}") if commit else None
    return Outcome("rollback", name, target, channel, current, rel, None, entry, sha)


def revoke(
    root: Path, ref: str, reason: str, key_path: Path, *, commit: bool = False, now: dt.datetime | None = None
) -> Outcome:
    """Mark ``NAME@VERSION`` unusable everywhere (promote, rollback and verify refuse it)."""
    name, version = _split(ref)
    settings = load_settings(root)
    _, identity, teams = _actor(root, key_path)
    allowed = {settings.teams[r] for r in REVOKE_ROLES}
    if not allowed & set(teams):
        raise RegistryError(
            f"{identity} may not revoke: only members of {', '.join(sorted(allowed))} may",
            code="registry.not-publisher",
        )
    if not reason.strip():
        raise RegistryError("a revocation needs a reason", code="registry.reason")
    with locked(root):
        old = load_registry(root, name, channels=settings.channels)
        if version in revoked_versions(old):
            raise RegistryError(f"{name}@{version} is already revoked", code="registry.already-revoked")
        new = json.loads(json.dumps(old))
        entry = _entry(
            new,
            action="revoke",
            version=version,
            by=identity,
            at=format_time(now or utcnow()),
            commit=_git_head(root),
            reason=reason.strip(),
        )
        new["history"].append(entry)
        rel = write_registry(root, name, old, new)
        sha = _commit(root, [rel], f"revoke {name}@{version}: {reason.strip()}") if commit else None
    return Outcome("revoke", name, version, None, None, rel, None, entry, sha)


def render_registry(doc: dict[str, Any]) -> str:
    """Channels (revoked versions flagged) and the history, one line each."""
    revoked = revoked_versions(doc)
    lines = [f"registry of {doc['adapter']}", "channels:"]
    for ch, cur in doc["channels"].items():
        if cur is None:
            lines.append(f"  {ch:<12} (none)")
        else:
            flag = f"  REVOKED: {revoked[cur['version']]}" if cur["version"] in revoked else ""
            lines.append(
                f"  {ch:<12} {cur['version']}  {cur['digest'][:19]}…  since {cur.get('since', '?')}{flag}"
            )
    lines.append("history:")
    for e in doc["history"]:
        where = f" -> {e['channel']}" if e.get("channel") else ""
        prev = f" (was {e['previous']})" if e.get("previous") else ""
        extra = f"  reason: {e['reason']}" if e.get("reason") else ""
        att = f"  attestation {e['attestation']}" if e.get("attestation") else ""
        lines.append(
            f"  {e['seq']:>3} {e['at']}  {e['action']:<8} {e['version']}{where}{prev} by {e['by']}"
            f"{att}{extra}"
        )
    if not doc["history"]:
        lines.append("  (empty)")
    return "\n".join(lines) + "\n"
