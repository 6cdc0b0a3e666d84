"""Verify the attestation chain of an adapter (or a dataset) before it is used.

:func:`verify_chain` checks, in order, and collects every failure with a stable code:

0. the adapter manifest names exactly one dataset (``manifest-missing``,
   ``manifest-invalid``, ``chain-multiple-datasets``);
1. the layout: present and readable (``layout-missing``, ``layout-invalid``), signed by a
   currently valid key of an owner identity (``layout-signature``), not expired
   (``layout-expired``);
2. every link of the adapter and of the dataset it was trained on: well-formed, one
   signature whose keyid matches the file name (``link-invalid``), by a functionary key
   of its step (``unauthorised-functionary``), listed in ``identities/``
   (``key-unknown``), verifying with both the layout's and the identity's copy of the key
   (``link-signature``), of an identity in the step's team (``unauthorised-functionary``),
   about this subject (``subject-mismatch``), not signed in the future (``link-time``),
   with a key valid at the signing time (``key-revoked``, ``key-expired``,
   ``key-not-yet-valid``);
3. thresholds counted by distinct identities, not keys (``step-missing``,
   ``threshold-not-met``);
4. in-toto's own verification (``in_toto.verifylib``) on the layout and the links:
   artifact rules (``artifact-rule``) and its signature/threshold checks
   (``in-toto-error`` for anything else it raises);
5. completeness: each step that consumes the adapter records all of its files
   (``materials-incomplete``); the adapter manifest lists the trained files
   (``manifest-mismatch``);
6. the files on disk, which in-toto's step rules never re-hash: artifact names stay
   inside their folder (``artifact-name``); adapter files (``artifact-missing``,
   ``artifact-mismatch``, ``artifact-extra``, ``artifact-unreadable``), dataset shards
   and training inputs present locally (``artifact-mismatch``), evidence files
   (``evidence-missing``, ``evidence-digest``, ``evidence-invalid``) and the adapter
   digest they name (``evidence-adapter-digest``);
7. the OpenSSF model signature recorded in the adapter manifest, when there is one:
   file and sha256, signer listed in ``identities/`` and valid, signature over the folder
   on disk, per-file digests equal to the train step's products (``model-signature``);
8. the version is not revoked in ``registry/<name>.yaml`` (``revoked``, ``registry-invalid``).

The result, :class:`ChainFacts`, holds one line per step (who, when, what) and, for the
policy engine, :meth:`ChainFacts.to_policy_input` — only facts that verified.

Known limit: a link's signing time (``environment.ftpolicy.signed_at``) is stated by
its signer; without a timestamp authority, a stolen key can sign with an earlier date.
When the time of a compromise is unknown, set the key's ``revoked_at`` to its
``valid_from`` and re-sign the layout: the key then leaves the layout's functionaries and
no signature of it counts, for ftpolicy or for the reference in-toto tools.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftpolicy.attest.evidence import EvidenceError, adapter_digest, check_evidence
from ftpolicy.attest.layout import (
    ADAPTER_STEPS,
    DATASET_STEPS,
    LayoutLoadError,
    load_settings,
    load_signed_layout,
    owner_keyids,
    signature_keyids,
)
from ftpolicy.attest.subject import Subject
from ftpolicy.errors import ExitCode, FtpolicyError, UsageError
from ftpolicy.identities import Keyring, format_time, load_keyring, parse_time, utcnow

if TYPE_CHECKING:
    from in_toto.models.layout import Layout, Step
    from in_toto.models.link import Link

    from ftpolicy.report.model import Report

FACTS_VERSION = "ftpolicy/chain-facts/v1"
CLOCK_SKEW = dt.timedelta(minutes=5)
_LINK_RE = re.compile(r"^(?P<step>.+)\.(?P<prefix>[0-9a-f]{8})\.link$")
# steps that must record every adapter file the train step produced
_ADAPTER_CONSUMERS = ("adapter-scan", "security-eval", "quality-eval", "security-approval", "promote")
_EVIDENCE_PREFIX = "attestations/"


@dataclass(frozen=True)
class Failure:
    """One reason the chain does not hold."""

    code: str
    message: str
    step: str | None = None
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Stable machine form."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.step:
            out["step"] = self.step
        if self.path:
            out["path"] = self.path
        return out


@dataclass(frozen=True)
class Attestation:
    """One link that verified: who signed which step, when, over what."""

    step: str
    subject: str
    keyid: str
    identity: str
    teams: tuple[str, ...]
    signed_at: str
    link_path: str
    materials: dict[str, str]  # name -> sha256
    products: dict[str, str]
    command: tuple[str, ...] = ()
    evidence: dict[str, Any] | None = None  # {"path", "sha256", "data"} once verified

    def to_dict(self) -> dict[str, Any]:
        """The form used in the policy input and in ``--format json``."""
        return {
            "signer": self.keyid,
            "identity": self.identity,
            "teams": list(self.teams),
            "time": self.signed_at,
            "link": self.link_path,
            "materials": dict(self.materials),
            "products": dict(self.products),
            "command": list(self.command),
            "evidence": self.evidence,
        }


@dataclass
class StepResult:
    """A step of the layout and the attestations that count for it."""

    name: str
    subject: str
    teams: tuple[str, ...]
    threshold: int
    attestations: list[Attestation] = field(default_factory=list)

    @property
    def identities(self) -> list[str]:
        """Distinct identities that attested this step, sorted."""
        return sorted({a.identity for a in self.attestations})


@dataclass
class ChainFacts:
    """The outcome of :func:`verify_chain`: per-step facts and the failures."""

    subject: str
    dataset: str | None
    layout_path: str | None = None
    layout_expires: str | None = None
    layout_signers: list[str] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    adapter_files: dict[str, str] = field(default_factory=dict)
    artifacts_checked: int = 0
    bytes_hashed: int = 0
    dataset_files_absent: list[str] = field(default_factory=list)
    in_toto: str = "not run"

    @property
    def ok(self) -> bool:
        """True when every check held."""
        return not self.failures

    def fail(self, code: str, message: str, *, step: str | None = None, path: str | None = None) -> None:
        """Record a failure (each code/step/path once)."""
        f = Failure(code, message, step, path)
        if not any((g.code, g.step, g.path) == (f.code, f.step, f.path) for g in self.failures):
            self.failures.append(f)

    def has(self, *codes: str) -> bool:
        """True when a failure with one of ``codes`` was recorded."""
        return any(f.code in codes for f in self.failures)

    @property
    def adapter_digest(self) -> str | None:
        """Digest of the trained adapter files (see :func:`ftpolicy.attest.evidence.adapter_digest`)."""
        return adapter_digest(self.adapter_files) if self.adapter_files else None

    def to_policy_input(self) -> dict[str, Any]:
        """Verified facts for the policy input document (``input.attestations``).

        Shape::

            {"<subject>": {"verified": bool, "steps": {"<step>": [attestation, ...]}}, ...}

        where each attestation is ``{signer, identity, teams, time, link, materials,
        products, command, evidence: {path, sha256, data} | null}``. Only links that
        verified appear; a chain with failures has ``verified: false``.
        """
        out: dict[str, Any] = {}
        for step in self.steps:
            entry = out.setdefault(step.subject, {"verified": self.ok, "steps": {}})
            entry["steps"][step.name] = [a.to_dict() for a in step.attestations]
        if self.subject in out:
            out[self.subject]["adapter_digest"] = self.adapter_digest
            out[self.subject]["adapter_files"] = dict(self.adapter_files)
        return out

    def to_report(self) -> Report:
        """The failures as a :class:`~ftpolicy.report.model.Report` (for SARIF / GitHub output).

        Each failure is a finding with rule id ``verify/<code>`` on the file it concerns.
        """
        from ftpolicy.report.model import Finding, Report, RuleInfo

        findings = [
            Finding(
                rule_id=f"verify/{f.code}",
                message=f.message,
                file=f.path,
                severity="high",
                category="attestation",
                properties={"step": f.step} if f.step else {},
            )
            for f in self.failures
        ]
        rules = {
            r.rule_id: RuleInfo(r.rule_id, f"attestation chain check {r.rule_id.split('/', 1)[1]} failed")
            for r in findings
        }
        return Report(
            kind="verify",
            status="pass" if self.ok else "fail",
            findings=findings,
            summary={"subject": self.subject, "steps": len(self.steps), "in_toto": self.in_toto},
            rules=rules,
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``--format json`` document (``ftpolicy/chain-facts/v1``)."""
        return {
            "version": FACTS_VERSION,
            "subject": self.subject,
            "dataset": self.dataset,
            "ok": self.ok,
            "layout": {
                "path": self.layout_path,
                "expires": self.layout_expires,
                "signers": self.layout_signers,
            },
            "steps": [
                {
                    "name": s.name,
                    "subject": s.subject,
                    "teams": list(s.teams),
                    "threshold": s.threshold,
                    "identities": s.identities,
                    "attestations": [a.to_dict() for a in s.attestations],
                }
                for s in self.steps
            ],
            "adapter_digest": self.adapter_digest,
            "artifacts_checked": self.artifacts_checked,
            "bytes_hashed": self.bytes_hashed,
            "dataset_files_not_present": self.dataset_files_absent,
            "in_toto": self.in_toto,
            "failures": [f.to_dict() for f in self.failures],
            "policies": {"evaluated": False, "reason": "the chain only; see ftpolicy.promotion"},
        }


class LinkFileError(FtpolicyError):
    """A link file cannot be read or its signature does not verify."""

    code = "link-invalid"
    exit_code = ExitCode.VIOLATION


def read_link_file(path: Path, *, verify_key: dict[str, Any] | None = None) -> Link:
    """Read a DSSE (or Metablock) link file; with ``verify_key`` also check its signature."""
    import securesystemslib.exceptions
    from in_toto.exceptions import InvalidMetadata, SignatureVerificationError
    from in_toto.models.link import Link
    from in_toto.models.metadata import Metadata

    try:
        md = Metadata.load(str(path))
        payload = md.get_payload()
    except (
        OSError,
        InvalidMetadata,
        securesystemslib.exceptions.FormatError,
        ValueError,
        KeyError,
        TypeError,
    ) as exc:
        raise LinkFileError(f"{path.name}: not in-toto link metadata ({exc})") from None
    if not isinstance(payload, Link):
        raise LinkFileError(f"{path.name}: holds a {type(payload).__name__}, not a link")
    if verify_key is not None:
        try:
            md.verify_signature(verify_key)
        except (SignatureVerificationError, securesystemslib.exceptions.Error) as exc:
            raise LinkFileError(
                f"{path.name}: signature does not verify ({exc})", code="link-signature"
            ) from None
    return payload


@dataclass
class _Found:
    rel: str
    step: str
    keyid: str | None
    md: Any
    link: Link | None
    error: str | None


def _link_files(root: Path, subject_dir: str) -> Iterator[tuple[str, Path]]:
    folder = root / subject_dir
    if folder.is_dir():
        for p in sorted(folder.glob("*.link")):
            if p.is_file():
                yield f"{subject_dir}/{p.name}", p


def _load_found(rel: str, path: Path) -> _Found:
    import securesystemslib.exceptions
    from in_toto.exceptions import InvalidMetadata
    from in_toto.models.link import Link
    from in_toto.models.metadata import Metadata

    m = _LINK_RE.match(path.name)
    step = m["step"] if m else path.name
    try:
        md = Metadata.load(str(path))
        payload = md.get_payload()
    except (
        OSError,
        InvalidMetadata,
        securesystemslib.exceptions.FormatError,
        ValueError,
        KeyError,
        TypeError,
    ) as exc:
        return _Found(rel, step, None, None, None, f"not in-toto link metadata ({exc})")
    if not isinstance(payload, Link):
        return _Found(rel, step, None, md, None, f"holds a {type(payload).__name__}, not a link")
    keyids = signature_keyids(md)
    if not m or len(keyids) != 1 or not keyids[0].startswith(m["prefix"]):
        return _Found(rel, step, None, md, payload, "file name does not match its single signature's keyid")
    if payload.name != step:
        return _Found(
            rel, step, keyids[0], md, payload, f"link is for step {payload.name!r}, file name says {step!r}"
        )
    return _Found(rel, step, keyids[0], md, payload, None)


def _digests(artifacts: dict[str, Any]) -> dict[str, str]:
    return {name: str(h.get("sha256", "")) for name, h in sorted(artifacts.items()) if isinstance(h, dict)}


def _dataset_for(root: Path, subject: Subject, facts: ChainFacts) -> Subject | None:
    from ftpolicy.manifest import load_manifest

    if not (root / subject.manifest_path).is_file():
        facts.fail(
            "manifest-missing",
            f"{subject.manifest_path} does not exist: cannot tell which dataset the adapter was trained on",
            path=subject.manifest_path,
        )
        return None
    try:
        data = load_manifest(root, subject.manifest_path).data
    except FtpolicyError as exc:
        facts.fail("manifest-invalid", exc.diagnostics(), path=subject.manifest_path)
        return None
    refs = list(data.get("datasets") or [])
    if len(refs) != 1:
        facts.fail(
            "chain-multiple-datasets",
            f"{subject.manifest_path} lists {len(refs)} datasets; the attestation chain covers exactly one",
            path=subject.manifest_path,
        )
        return None
    name, _, version = str(refs[0]).partition("@")
    return Subject("dataset", name, version)


def verify_chain(
    root: Path,
    subject: Subject | str,
    artifacts_dir: Path | None = None,
    *,
    until: str | None = None,
    now: dt.datetime | None = None,
) -> ChainFacts:
    """Verify the attestation chain of an adapter (or dataset) version; never raises for a broken chain.

    ``artifacts_dir`` holds the adapter files and dataset shards under their
    repository-relative names (default: the repository itself). ``until`` stops the chain
    after that step (e.g. ``security-approval`` before promoting); a dataset subject is
    verified up to ``dataset-review``. Raises :class:`~ftpolicy.errors.FtpolicyError` only
    when verification cannot start (no repository, invalid identities or configuration).
    """
    subj = Subject.parse(subject) if isinstance(subject, str) else subject
    if subj.kind == "dataset":
        if until is not None and until not in DATASET_STEPS:
            raise UsageError(f"a dataset chain ends at dataset-review, not {until}", code="verify.until")
        until = until or "dataset-review"
    now = now or utcnow()
    artifacts = artifacts_dir or root
    settings = load_settings(root)
    ring = load_keyring(root)
    facts = ChainFacts(subject=str(subj), dataset=None)
    dataset = subj if subj.kind == "dataset" else _dataset_for(root, subj, facts)
    facts.dataset = str(dataset) if dataset else None

    try:
        md, layout, layout_rel = load_signed_layout(root, settings.path)
    except LayoutLoadError as exc:
        facts.fail(exc.code, exc.message, path=settings.path)
        return facts
    facts.layout_path = layout_rel
    facts.layout_expires = str(layout.expires)
    if until is not None:
        names = [s.name for s in layout.steps]
        if until not in names:
            raise UsageError(f"step {until!r} is not in {layout_rel}", hint="steps: " + ", ".join(names))
        layout = _truncated(layout, names.index(until) + 1)
    owner_key = _check_layout_signature(
        md, layout_rel, settings.owners, owner_keyids(settings, ring), ring, now, facts
    )
    if owner_key is None:
        return facts  # nothing signed by the owner can be trusted
    try:
        expires = parse_time(layout.expires, where=f"{layout_rel}: expires")
    except FtpolicyError:
        facts.fail("layout-invalid", f"{layout_rel}: unreadable expiry {layout.expires!r}", path=layout_rel)
    else:
        if expires <= now:
            facts.fail(
                "layout-expired",
                f"{layout_rel} expired at {format_time(expires)}",
                path=layout_rel,
            )

    subject_dirs = list(dict.fromkeys([subj.dir] + ([dataset.dir] if dataset else [])))
    found = [_load_found(rel, p) for d in subject_dirs for rel, p in _link_files(root, d)]
    _check_links(layout, found, subj, dataset, ring, settings, now, facts)
    _check_thresholds(facts)
    _run_in_toto(root, md, owner_key, found, facts, layout=layout if until is not None else None)
    facts.adapter_files = _adapter_files(facts)
    _check_coverage(facts)
    _check_files(root, artifacts, subj, facts)
    _check_model_signature(root, artifacts, subj, facts)
    _check_revoked(root, subj, facts)
    return facts


def _check_revoked(root: Path, subj: Subject, facts: ChainFacts) -> None:
    """A version revoked in ``registry/<name>.yaml`` never verifies (``revoked``)."""
    if subj.kind != "adapter":
        return
    from ftpolicy.registry.ops import is_revoked
    from ftpolicy.registry.store import registry_rel

    try:
        reason = is_revoked(root, subj.name, subj.version)
    except FtpolicyError as exc:
        facts.fail("registry-invalid", exc.diagnostics(), path=registry_rel(subj.name))
        return
    if reason is not None:
        facts.fail("revoked", f"{subj.ref} was revoked: {reason}", path=registry_rel(subj.name))


def _check_model_signature(root: Path, artifacts: Path, subj: Subject, facts: ChainFacts) -> None:
    """The OpenSSF model signature the adapter manifest records, if any (``model-signature``)."""
    if subj.kind != "adapter" or not (root / subj.manifest_path).is_file() or facts.has("manifest-invalid"):
        return
    from ftpolicy.signing import REASON, verify_adapter_signature

    try:
        check = verify_adapter_signature(
            root, subj.ref, artifacts=artifacts, signed_products=facts.adapter_files or None
        )
    except FtpolicyError as exc:
        facts.fail(REASON, exc.diagnostics(), path=subj.manifest_path)
        return
    for message, path in check.failures:
        facts.fail(REASON, message, path=path)


def _truncated(layout: Layout, count: int) -> Layout:
    """A copy of the layout with only its first ``count`` steps and no inspections."""
    from in_toto.models.layout import Layout as LayoutModel

    data = layout.__class__.read(_layout_dict(layout))
    assert isinstance(data, LayoutModel)
    data.steps = data.steps[:count]
    data.inspect = []
    return data


def _layout_dict(layout: Layout) -> dict[str, Any]:
    import copy

    import attr

    return copy.deepcopy(attr.asdict(layout))


@dataclass(frozen=True)
class ExportedChain:
    """A folder the reference in-toto tools can verify: layout, owner keys, links."""

    layout: Path
    owner_keys: tuple[Path, ...]
    link_dir: Path

    def in_toto_verify_args(self) -> list[str]:
        """Arguments for ``in-toto-verify`` (Python reference CLI)."""
        return [
            "--layout",
            str(self.layout),
            "--verification-keys",
            *map(str, self.owner_keys),
            "--link-dir",
            str(self.link_dir),
        ]


def export_chain(root: Path, subject: Subject | str, out_dir: Path) -> ExportedChain:
    """Copy the layout, the public keys of the owners that signed it and every link of the
    adapter's chain (its own and its dataset's) into ``out_dir`` for in-toto-verify and
    in-toto-golang.

    The reference tools check signatures, thresholds by key and artifact rules; the
    identity checks (revocation, distinct people) and the re-hashing of files on disk are
    ftpolicy's own and are not part of an export.
    """
    from ftpolicy.manifest import confine

    subj = Subject.parse(subject) if isinstance(subject, str) else subject
    settings = load_settings(root)
    ring = load_keyring(root)
    facts = ChainFacts(subject=str(subj), dataset=None)
    dataset = _dataset_for(root, subj, facts)
    if dataset is None:
        raise UsageError(
            facts.failures[0].message if facts.failures else f"cannot find the dataset of {subj}",
            code="verify.export",
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    layout = out_dir / Path(settings.path).name
    shutil.copyfile(confine(root, settings.path), layout)
    keys: list[Path] = []
    md, _layout, _rel = load_signed_layout(root, settings.path)
    signed_by = set(signature_keyids(md))  # the reference tools require a signature per key given
    for owner in settings.owners:
        for rec in ring.identity_keys(owner):
            if rec.keyid not in signed_by:
                continue
            target = out_dir / f"owner-{owner}-{rec.keyid[:8]}.pub"
            shutil.copyfile(confine(root, rec.public_key_path), target)
            keys.append(target)
    links = out_dir / "links"
    links.mkdir(exist_ok=True)
    for folder in (dataset.dir, subj.dir):
        for _rel, path in _link_files(root, folder):
            shutil.copyfile(path, links / path.name)
    return ExportedChain(layout, tuple(keys), links)


def _check_layout_signature(
    md: Any,
    layout_rel: str,
    owners: tuple[str, ...],
    owner_ids: list[str],
    ring: Keyring,
    now: dt.datetime,
    facts: ChainFacts,
) -> dict[str, Any] | None:
    from in_toto.exceptions import SignatureVerificationError

    from ftpolicy.keys import golang_keyid, public_key_dict

    aliases = {golang_keyid(rec.key) for rec in ring.keys.values()}
    sig_ids = [k for k in signature_keyids(md) if k not in aliases or k in ring.keys]
    if not owners:
        facts.fail("layout-signature", "ftpolicy.yaml names no layout owner (layout.owners)", path=layout_rel)
        return None
    why: list[str] = []
    for keyid in sig_ids:
        rec = ring.get(keyid)
        if keyid not in owner_ids:
            who = f"identity {rec.identity}" if rec else "a key not listed in identities/"
            why.append(f"signed by {keyid[:8]} ({who}), not by a layout owner ({', '.join(owners)})")
            continue
        assert rec is not None
        status = ring.key_valid_at(keyid, now)
        if not status.ok:
            why.append(status.message)
            continue
        key = public_key_dict(rec.key)
        try:
            md.verify_signature(key)
        except (SignatureVerificationError, Exception) as exc:
            why.append(f"signature by {keyid[:8]} ({rec.identity}) does not verify ({type(exc).__name__})")
            continue
        facts.layout_signers.append(rec.identity)
        return key
    if not sig_ids:
        why.append("the layout is not signed")
    facts.fail("layout-signature", f"{layout_rel}: " + "; ".join(why), path=layout_rel)
    return None


def _check_links(
    layout: Layout,
    found: list[_Found],
    subj: Subject,
    dataset: Subject | None,
    ring: Keyring,
    settings: Any,
    now: dt.datetime,
    facts: ChainFacts,
) -> None:
    from in_toto.exceptions import SignatureVerificationError

    from ftpolicy.keys import public_key_dict

    steps: dict[str, Step] = {s.name: s for s in layout.steps}
    for step in layout.steps:
        owner = str(dataset) if (step.name in DATASET_STEPS and dataset) else str(subj)
        if step.name not in DATASET_STEPS and step.name not in ADAPTER_STEPS:
            owner = str(subj)
        facts.steps.append(
            StepResult(step.name, owner, settings.teams_for_step(step.name), int(step.threshold))
        )
    results = {s.name: s for s in facts.steps}
    for f in found:
        if f.step not in steps:
            continue  # not part of the layout: in-toto ignores it too
        step = steps[f.step]
        result = results[f.step]
        if f.error or f.link is None or f.keyid is None:
            facts.fail("link-invalid", f"{f.rel}: {f.error}", step=f.step, path=f.rel)
            continue
        keyid = f.keyid
        if keyid not in step.pubkeys:
            rec = ring.get(keyid)
            who = (
                f"{rec.identity} ({', '.join(rec.teams) or 'no team'})" if rec else "a key not in identities/"
            )
            facts.fail(
                "unauthorised-functionary",
                f"{f.rel}: signed by {keyid[:8]}, {who}, which is not a functionary of step {f.step}",
                step=f.step,
                path=f.rel,
            )
            continue
        rec = ring.get(keyid)
        if rec is None:
            facts.fail(
                "key-unknown",
                f"{f.rel}: key {keyid[:8]} is not listed in identities/",
                step=f.step,
                path=f.rel,
            )
            continue
        # the layout's copy of the key (what in-toto uses) and the identity's key must both verify
        try:
            f.md.verify_signature(layout.keys.get(keyid))
            f.md.verify_signature(public_key_dict(rec.key))
        except (SignatureVerificationError, Exception) as exc:
            facts.fail(
                "link-signature",
                f"{f.rel}: signature does not verify ({type(exc).__name__})",
                step=f.step,
                path=f.rel,
            )
            continue
        if result.teams and not set(result.teams) & set(rec.teams):
            facts.fail(
                "unauthorised-functionary",
                f"{f.rel}: {rec.identity} is not in team {' or '.join(result.teams)} "
                f"(teams: {', '.join(rec.teams) or 'none'})",
                step=f.step,
                path=f.rel,
            )
            continue
        env = (f.link.environment or {}).get("ftpolicy") if isinstance(f.link.environment, dict) else None
        env = env if isinstance(env, dict) else {}
        if env.get("subject") != result.subject:
            facts.fail(
                "subject-mismatch",
                f"{f.rel}: link is about {env.get('subject')!r}, expected {result.subject!r}",
                step=f.step,
                path=f.rel,
            )
            continue
        try:
            signed_at = parse_time(env.get("signed_at"), where=f"{f.rel}: signed_at")
        except FtpolicyError:
            facts.fail(
                "link-invalid", f"{f.rel}: no signing time (environment.ftpolicy.signed_at)", step=f.step
            )
            continue
        if signed_at > now + CLOCK_SKEW:
            facts.fail("link-time", f"{f.rel}: signed in the future ({format_time(signed_at)})", step=f.step)
            continue
        status = ring.key_valid_at(keyid, signed_at)
        if not status.ok:
            facts.fail(status.reason or "key-invalid", f"{f.rel}: {status.message}", step=f.step, path=f.rel)
            continue
        result.attestations.append(
            Attestation(
                step=f.step,
                subject=result.subject,
                keyid=keyid,
                identity=rec.identity,
                teams=rec.teams,
                signed_at=format_time(signed_at),
                link_path=f.rel,
                materials=_digests(f.link.materials),
                products=_digests(f.link.products),
                command=tuple(str(c) for c in f.link.command),
            )
        )


def _check_thresholds(facts: ChainFacts) -> None:
    for step in facts.steps:
        distinct = step.identities
        if not step.attestations:
            if not any(f.step == step.name for f in facts.failures):
                facts.fail(
                    "step-missing", f"no attestation for step {step.name} of {step.subject}", step=step.name
                )
            elif step.threshold >= 1:
                facts.fail(
                    "threshold-not-met",
                    f"step {step.name} needs {step.threshold} distinct identities, none verified",
                    step=step.name,
                )
        elif len(distinct) < step.threshold:
            keys = len(step.attestations)
            facts.fail(
                "threshold-not-met",
                f"step {step.name} needs {step.threshold} distinct identities "
                f"of team {' or '.join(step.teams)}, "
                f"found {len(distinct)} ({', '.join(distinct)}) in {keys} link(s)",
                step=step.name,
            )


def _in_toto_steps(layout: Layout, link_dir: str) -> None:
    """in-toto's verification of a (truncated) layout whose signature was checked already.

    The same verifylib functions, in the same order, as ``in_toto_verify`` after its
    signature and expiry checks (sublayouts, thresholds, artifact rules); inspections are
    never run.
    """
    from in_toto import settings as it_settings
    from in_toto import verifylib as v

    steps_metadata = v.load_links_for_layout(layout, link_dir)
    steps_metadata = v.verify_link_signature_thresholds(layout, steps_metadata)
    chain = v.verify_sublayouts(layout, steps_metadata, link_dir, it_settings.LINK_CMD_EXEC_TIMEOUT)
    v.verify_threshold_constraints(layout, chain)
    v.verify_all_item_rules(layout.steps, v.reduce_chain_links(chain))


def _run_in_toto(
    root: Path,
    md: Any,
    owner_key: dict[str, Any],
    found: list[_Found],
    facts: ChainFacts,
    *,
    layout: Layout | None = None,
) -> None:
    """Run in-toto's reference verification over the layout and every link file found.

    With ``layout`` (a truncated copy) only its steps are verified.
    """
    import securesystemslib.exceptions
    from in_toto import exceptions as ite
    from in_toto.verifylib import in_toto_verify

    tmp = Path(tempfile.mkdtemp(prefix="ftpolicy-links-"))
    in_toto_log = logging.getLogger("in_toto")
    level = in_toto_log.level
    in_toto_log.setLevel(logging.CRITICAL)
    try:
        for f in found:
            shutil.copyfile(root / f.rel, tmp / Path(f.rel).name)
        try:
            if layout is not None:
                _in_toto_steps(layout, str(tmp))
            else:
                in_toto_verify(
                    md,
                    {owner_key["keyid"]: owner_key},
                    link_dir_path=str(tmp),
                    persist_inspection_links=False,
                )
        except ite.RuleVerificationError as exc:
            facts.in_toto = "failed"
            text = str(exc)
            m = re.search(r"expected_(materials|products)' of item '([^']+)'", text)
            head = text.splitlines()[0] if text else "artifact rule failed"
            where = f"step {m[2]} {m[1]}: " if m else ""
            facts.fail("artifact-rule", f"{where}{head}", step=m[2] if m else None)
        except ite.LayoutExpiredError:
            facts.in_toto = "failed"
            facts.fail("layout-expired", "in-toto: the layout has expired")
        except (ite.LinkNotFoundError, ite.ThresholdVerificationError) as exc:
            facts.in_toto = "failed"
            if not facts.has(
                "step-missing",
                "threshold-not-met",
                "unauthorised-functionary",
                "link-signature",
                "link-invalid",
                "key-unknown",
            ):
                facts.fail("threshold-not-met", f"in-toto: {exc}")
        except ite.SignatureVerificationError as exc:
            facts.in_toto = "failed"
            facts.fail("layout-signature", f"in-toto: {exc}")
        except (ite.BadReturnValueError, securesystemslib.exceptions.Error, ValueError, KeyError) as exc:
            facts.in_toto = "failed"
            facts.fail("in-toto-error", f"in-toto: {type(exc).__name__}: {exc}")
        else:
            facts.in_toto = "passed"
    finally:
        in_toto_log.setLevel(level)
        shutil.rmtree(tmp, ignore_errors=True)


def _step(facts: ChainFacts, name: str) -> StepResult | None:
    return next((s for s in facts.steps if s.name == name), None)


def _check_coverage(facts: ChainFacts) -> None:
    """Each step consuming the adapter records all of its files (not, say, only its config)."""
    want = set(facts.adapter_files)
    if not want:
        return
    for name in _ADAPTER_CONSUMERS:
        step = _step(facts, name)
        for att in step.attestations if step else []:
            missing = sorted(want - set(att.materials))
            if missing:
                facts.fail(
                    "materials-incomplete",
                    f"{att.link_path}: does not record {len(missing)} adapter file(s), e.g. {missing[0]}",
                    step=name,
                    path=att.link_path,
                )


def _adapter_files(facts: ChainFacts) -> dict[str, str]:
    train = _step(facts, "train")
    if not train or not train.attestations:
        return {}
    products = train.attestations[0].products
    return {p: h for p, h in products.items() if not p.startswith(_EVIDENCE_PREFIX)}


def _unsafe(name: str) -> bool:
    """An artifact name that would leave the folder it is relative to."""
    parts = name.replace("\\", "/").split("/")
    return not name or name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def _check_names(facts: ChainFacts) -> bool:
    ok = True
    for step in facts.steps:
        for att in step.attestations:
            for name in (*att.materials, *att.products):
                if _unsafe(name):
                    ok = False
                    facts.fail(
                        "artifact-name",
                        f"{att.link_path}: artifact name {name!r} leaves its folder (absolute or '..')",
                        step=step.name,
                        path=att.link_path,
                    )
    return ok


def _check_files(root: Path, artifacts: Path, subj: Subject, facts: ChainFacts) -> None:
    if not _check_names(facts):
        return  # never open files named by a link that points outside the repository
    train = _step(facts, "train")
    manifest_rel = subj.manifest_path
    adapter_files = {p: h for p, h in facts.adapter_files.items() if p != manifest_rel}
    ignored = {manifest_rel}
    signature_rel = _check_manifest_files(root, manifest_rel, adapter_files, facts)
    if signature_rel:
        ignored.add(signature_rel)
    jobs: list[tuple[str, str, str]] = []  # (name, signed sha256, step that signed it)
    for name, want in adapter_files.items():
        if (artifacts / name).is_file():
            jobs.append((name, want, "train"))
        else:
            facts.fail(
                "artifact-missing", f"{name}: not present under the artifacts folder", step="train", path=name
            )
    _check_extra(artifacts, adapter_files, ignored, facts)
    consumer = train if train and train.attestations else _step(facts, "dataset-review")
    if consumer and consumer.attestations:
        for name, want in consumer.attestations[0].materials.items():
            if name.startswith(_EVIDENCE_PREFIX):
                continue
            if (artifacts / name).is_file():
                jobs.append((name, want, consumer.name))
            else:
                facts.dataset_files_absent.append(name)
    _rehash_all(artifacts, jobs, facts)
    for step in facts.steps:
        for att in list(step.attestations):
            for name, want in att.products.items():
                if name.startswith(_EVIDENCE_PREFIX):
                    _check_evidence_file(root, step, att, name, want, facts)


def _check_manifest_files(
    root: Path, manifest_rel: str, adapter_files: dict[str, str], facts: ChainFacts
) -> str | None:
    from ftpolicy.manifest import load_manifest

    if not (root / manifest_rel).is_file() or not adapter_files:
        return None
    try:
        data = load_manifest(root, manifest_rel).data
    except FtpolicyError:
        return None  # already reported
    listed = {str(f["path"]): str(f["sha256"]) for f in data.get("files", [])}
    if listed != adapter_files:
        diff = sorted(set(listed.items()) ^ set(adapter_files.items()))
        facts.fail(
            "manifest-mismatch",
            f"{manifest_rel}: files differ from what the train step signed, e.g. {diff[0][0]}",
            path=manifest_rel,
        )
    sig = data.get("signature")
    return str(sig["path"]) if isinstance(sig, dict) and "path" in sig else None


def _rehash_all(artifacts: Path, jobs: list[tuple[str, str, str]], facts: ChainFacts) -> None:
    """Re-hash files in parallel (ftpolicy.hashing, streaming 1 MiB reads) and compare."""
    from ftpolicy.hashing.stream import HashingError, hash_files

    if not jobs:
        return
    sized = sorted(((artifacts / n).stat().st_size, n, w, s) for n, w, s in jobs)[::-1]
    try:
        results = hash_files(
            [artifacts / job[1] for job in sized], count_records=False, displays=[j[1] for j in sized]
        )
    except HashingError as exc:
        facts.fail("artifact-unreadable", exc.diagnostics())
        return
    digests = [r.sha256 for r in results]
    for (size, name, want, step), got in sorted(zip(sized, digests, strict=True), key=lambda x: x[0][1]):
        facts.artifacts_checked += 1
        facts.bytes_hashed += size
        if got != want:
            facts.fail(
                "artifact-mismatch",
                f"{name}: sha256 {got[:12]}… on disk, {want[:12]}… signed at step {step}",
                step=step,
                path=name,
            )


def _check_extra(
    artifacts: Path, adapter_files: dict[str, str], ignored: set[str], facts: ChainFacts
) -> None:
    names = [n for n in adapter_files if n not in ignored]
    if not names:
        return
    common = os.path.commonpath([os.path.dirname(n) for n in names])
    if len(Path(common).parts) < 3:  # e.g. adapters/NAME: other versions live there too
        return
    folder = artifacts / common
    if not folder.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for fname in sorted(filenames):
            rel = (Path(dirpath) / fname).relative_to(artifacts).as_posix()
            if rel not in adapter_files and rel not in ignored:
                facts.fail(
                    "artifact-extra",
                    f"{rel}: in the adapter folder but not among the files the train step signed",
                    step="train",
                    path=rel,
                )


def _check_evidence_file(
    root: Path, step: StepResult, att: Attestation, name: str, want: str, facts: ChainFacts
) -> None:
    path = root / name
    if not path.is_file():
        facts.fail(
            "evidence-missing",
            f"{name}: evidence signed at step {step.name} is missing",
            step=step.name,
            path=name,
        )
        return
    data = path.read_bytes()
    import hashlib

    got = hashlib.sha256(data).hexdigest()
    if got != want:
        facts.fail(
            "evidence-digest",
            f"{name}: edited after signing (sha256 {got[:12]}…, signed {want[:12]}… at step {step.name})",
            step=step.name,
            path=name,
        )
        return
    try:
        value = check_evidence(step.name, data, display=name, subject=Subject.parse(step.subject))
    except EvidenceError as exc:
        facts.fail("evidence-invalid", exc.message, step=step.name, path=name)
        return
    claimed = value.get("adapter")
    if isinstance(claimed, dict) and "digest" in claimed and claimed["digest"] != facts.adapter_digest:
        facts.fail(
            "evidence-adapter-digest",
            f"{name}: about adapter digest {str(claimed['digest'])[:19]}…, but the trained adapter is "
            f"{str(facts.adapter_digest)[:19]}… (evidence of another adapter, replayed?)",
            step=step.name,
            path=name,
        )
    idx = step.attestations.index(att)
    step.attestations[idx] = Attestation(
        **{**att.__dict__, "evidence": {"path": name, "sha256": want, "data": value}}
    )
