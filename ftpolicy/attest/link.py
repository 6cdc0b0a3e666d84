"""Attest a step: build an in-toto link, sign it (DSSE), store it where in-toto looks.

The link is built here rather than with ``in_toto.runlib.in_toto_run``, whose default
10-second command timeout would kill a training run: a command given to
:func:`attest_step` runs with no timeout at all, its output streamed to the terminal.
Long steps can also be attested in two halves, :func:`start_step` (materials) and
:func:`stop_step` (products), like ``in-toto-record start|stop``.

Links are stored as ``attestations/<kind>/<name>/<version>/<step>.<keyid[:8]>.link``
(in-toto's file name). The link's ``environment`` carries ftpolicy's facts under the
``ftpolicy`` key, covered by the signature: the subject and the signing time.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftpolicy._internal.atomic import write_bytes_atomic, write_text_atomic
from ftpolicy.attest.artifacts import artifact_name, record_artifacts
from ftpolicy.attest.evidence import check_evidence, evidence_rel
from ftpolicy.attest.layout import ADAPTER_STEPS, DATASET_STEPS, STEPS, LayoutLoadError, load_signed_layout
from ftpolicy.attest.subject import Subject
from ftpolicy.errors import ExitCode, FtpolicyError, UsageError
from ftpolicy.hashing.digest import sha256_file
from ftpolicy.identities import format_time, parse_time, utcnow

if TYPE_CHECKING:
    from in_toto.models.link import Link
    from securesystemslib.signer import Signer

LINK_NAME = "{step}.{keyid8}.link"
UNFINISHED_NAME = ".{step}.{keyid8}.link-unfinished"
ENV_KEY = "ftpolicy"


class AttestError(FtpolicyError):
    """A step cannot be attested as asked."""

    code = "attest.failed"
    exit_code = ExitCode.VIOLATION


@dataclass(frozen=True)
class AttestResult:
    """What :func:`attest_step` / :func:`stop_step` wrote."""

    step: str
    subject: Subject
    keyid: str
    link_path: str  # repo-relative
    evidence_path: str | None
    materials: int
    products: int
    signed_at: str


def link_rel(subject: Subject, step: str, keyid: str) -> str:
    """Repo-relative path of the link a key signs for a step of a subject."""
    return f"{subject.dir}/{LINK_NAME.format(step=step, keyid8=keyid[:8])}"


def _check_step(root: Path, step: str, subject: Subject, keyid: str) -> None:
    if step in DATASET_STEPS and subject.kind != "dataset":
        raise UsageError(
            f"step {step} is attested for a dataset, not {subject}",
            hint="pass --subject dataset:NAME@VERSION",
            code="attest.subject-kind",
        )
    if step in ADAPTER_STEPS and subject.kind != "adapter":
        raise UsageError(
            f"step {step} is attested for an adapter, not {subject}",
            hint="pass --subject adapter:NAME@VERSION",
            code="attest.subject-kind",
        )
    try:
        _md, layout, rel = load_signed_layout(root)
    except LayoutLoadError:
        if step not in STEPS:
            raise UsageError(
                f"unknown step {step!r}", hint="steps: " + ", ".join(STEPS), code="attest.step"
            ) from None
        return
    names = [s.name for s in layout.steps]
    if step not in names:
        raise UsageError(
            f"step {step!r} is not in {rel}", hint="steps: " + ", ".join(names), code="attest.step"
        )
    pubkeys = next(s.pubkeys for s in layout.steps if s.name == step)
    if keyid not in pubkeys:
        raise AttestError(
            f"key {keyid[:8]} is not a functionary of step {step} in {rel}",
            hint="sign with a key of the step's team, or add the identity to the team, "
            "re-run `ftpolicy layout init` and have an owner re-sign the layout",
            code="unauthorised-functionary",
        )


def _sign_link(link: Link, signer: Signer) -> str:
    from in_toto.models.metadata import Envelope

    env = Envelope.from_signable(link)
    env.create_signature(signer)
    return json.dumps(env.to_dict(), indent=2, sort_keys=True) + "\n"


def _copy_evidence(root: Path, step: str, subject: Subject, evidence: Path) -> tuple[str, dict[str, str]]:
    try:
        data = evidence.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"{evidence}: cannot read evidence ({exc.strerror})", code="evidence.not-found"
        ) from None
    check_evidence(step, data, display=str(evidence), subject=subject)
    rel = evidence_rel(subject, step)
    target = root / rel
    if target.exists():
        if target.read_bytes() != data:
            raise AttestError(
                f"{rel} already holds different {step} evidence",
                hint="co-signers of a step sign the same evidence file: pass --evidence "
                f"{rel}; to replace it, remove the old links and evidence first (git rm)",
                code="evidence.conflict",
            )
    else:
        write_bytes_atomic(target, data)
    return rel, {"sha256": sha256_file(target)}


def _check_cosigners(root: Path, step: str, subject: Subject, keyid: str, link: Link) -> None:
    """Links of one step must record identical artifacts (in-toto's threshold rule)."""
    from ftpolicy.attest.verify import read_link_file

    folder = root / subject.dir
    for other in sorted(folder.glob(f"{step}.*.link")):
        if other.name == LINK_NAME.format(step=step, keyid8=keyid[:8]):
            continue
        try:
            theirs = read_link_file(other)
        except FtpolicyError:
            continue
        if theirs.materials != link.materials or theirs.products != link.products:
            raise AttestError(
                f"{other.name} records different materials or products for {step}",
                hint="every signer of a step must record the same artifacts and evidence",
                code="attest.cosigner-mismatch",
            )


def _env(subject: Subject, started: dt.datetime, signed: dt.datetime) -> dict[str, Any]:
    from ftpolicy import __version__

    return {
        ENV_KEY: {
            "subject": str(subject),
            "started_at": format_time(started),
            "signed_at": format_time(signed),
            "tool": f"ftpolicy {__version__}",
        }
    }


def _finish(
    root: Path,
    step: str,
    subject: Subject,
    signer: Signer,
    *,
    materials: dict[str, Any],
    products: dict[str, Any],
    evidence: Path | None,
    command: list[str],
    byproducts: dict[str, Any],
    started: dt.datetime,
    now: dt.datetime | None,
) -> AttestResult:
    from in_toto.models.link import Link

    keyid = signer.public_key.keyid
    rel = link_rel(subject, step, keyid)
    if (root / rel).exists():
        raise AttestError(
            f"{rel} already exists: this key has attested {step} for {subject}",
            hint="links are never overwritten; to redo the step, remove the old link first (git rm)",
            code="attest.exists",
        )
    ev_rel = None
    if evidence is not None:
        ev_rel, ev_hash = _copy_evidence(root, step, subject, evidence)
        products = dict(sorted({**products, ev_rel: ev_hash}.items()))
    signed = now or utcnow()
    link = Link(
        name=step,
        materials=materials,
        products=products,
        byproducts=byproducts,
        command=command,
        environment=_env(subject, started, signed),
    )
    _check_cosigners(root, step, subject, keyid, link)
    text = _sign_link(link, signer)
    try:
        write_text_atomic(root / rel, text, exclusive=True)
    except FileExistsError:
        raise AttestError(f"{rel} appeared while attesting", code="attest.exists") from None
    return AttestResult(step, subject, keyid, rel, ev_rel, len(materials), len(products), format_time(signed))


def attest_step(
    root: Path,
    step: str,
    subject: Subject,
    signer: Signer,
    *,
    materials: Sequence[Path] = (),
    products: Sequence[Path] = (),
    evidence: Path | None = None,
    command: Sequence[str] = (),
    base: Path | None = None,
    now: dt.datetime | None = None,
) -> AttestResult:
    """Hash materials, run ``command`` (no timeout), hash products, sign and store the link.

    A command that exits non-zero produces no attestation (:class:`AttestError`).
    """
    base = base or root
    _check_step(root, step, subject, signer.public_key.keyid)
    started = now or utcnow()
    mats = record_artifacts(materials, base)
    byproducts: dict[str, Any] = {}
    if command:
        try:
            proc = subprocess.run(list(command), check=False)  # no timeout: training runs for hours
        except OSError as exc:
            raise UsageError(f"cannot run {command[0]!r}: {exc.strerror}", code="attest.command") from None
        byproducts["return-value"] = proc.returncode
        if proc.returncode != 0:
            raise AttestError(
                f"command exited with {proc.returncode}; no attestation written for {step}",
                hint="fix the step and attest again",
                code="attest.command-failed",
            )
    prods = record_artifacts(products, base)
    return _finish(
        root,
        step,
        subject,
        signer,
        materials=mats,
        products=prods,
        evidence=evidence,
        command=list(command),
        byproducts=byproducts,
        started=started,
        now=now,
    )


def unfinished_rel(subject: Subject, step: str, keyid: str) -> str:
    """Repo-relative path of the signed half-link written by :func:`start_step`."""
    return f"{subject.dir}/{UNFINISHED_NAME.format(step=step, keyid8=keyid[:8])}"


def start_step(
    root: Path,
    step: str,
    subject: Subject,
    signer: Signer,
    *,
    materials: Sequence[Path] = (),
    base: Path | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Record materials now and keep them signed until :func:`stop_step`; returns the file."""
    from in_toto.models.link import Link

    base = base or root
    keyid = signer.public_key.keyid
    _check_step(root, step, subject, keyid)
    if (root / link_rel(subject, step, keyid)).exists():
        raise AttestError(
            f"{link_rel(subject, step, keyid)} already exists",
            hint="remove it first (git rm)",
            code="attest.exists",
        )
    started = now or utcnow()
    link = Link(
        name=step, materials=record_artifacts(materials, base), environment=_env(subject, started, started)
    )
    rel = unfinished_rel(subject, step, keyid)
    write_text_atomic(root / rel, _sign_link(link, signer))
    return rel


def stop_step(
    root: Path,
    step: str,
    subject: Subject,
    signer: Signer,
    *,
    products: Sequence[Path] = (),
    evidence: Path | None = None,
    base: Path | None = None,
    now: dt.datetime | None = None,
) -> AttestResult:
    """Finish a step begun with :func:`start_step`: hash products, sign, store, clean up."""
    from ftpolicy.attest.verify import read_link_file
    from ftpolicy.keys import public_key_dict

    base = base or root
    keyid = signer.public_key.keyid
    rel = unfinished_rel(subject, step, keyid)
    path = root / rel
    if not path.is_file():
        raise UsageError(
            f"no started {step} for {subject} with key {keyid[:8]} ({rel} is missing)",
            hint=f"run `ftpolicy attest start {step} --subject {subject} --key KEY` first",
            code="attest.not-started",
        )
    half = read_link_file(path, verify_key=public_key_dict(signer.public_key))  # type: ignore[arg-type]
    if half.name != step:
        raise AttestError(f"{rel} was started for step {half.name}, not {step}", code="attest.not-started")
    env = (half.environment or {}).get(ENV_KEY, {})
    started = parse_time(env.get("started_at"), where=rel)
    result = _finish(
        root,
        step,
        subject,
        signer,
        materials=dict(half.materials),
        products=record_artifacts(products, base),
        evidence=evidence,
        command=list(half.command),
        byproducts=dict(half.byproducts),
        started=started,
        now=now,
    )
    path.unlink()
    return result


__all__ = [
    "AttestError",
    "AttestResult",
    "artifact_name",
    "attest_step",
    "link_rel",
    "start_step",
    "stop_step",
    "unfinished_rel",
]
