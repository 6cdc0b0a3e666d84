"""Step evidence: JSON files that are products of their step, so their digest is signed.

``ftpolicy attest STEP --evidence FILE`` validates FILE against the step's evidence
schema, copies it to ``attestations/<kind>/<name>/<version>/evidence/<step>.json`` and
records that copy as a product of the step's link.

=====================  =======================================================
step                   schema (``schemas/``)
=====================  =======================================================
scan                   ``scan-summary.v1`` (owned by the dataset scanner)
dataset-review         ``evidence-review.v1``
security-eval          ``evidence-eval.v1``
quality-eval           ``evidence-eval.v1``
security-approval      ``evidence-approval.v1``
promote                ``evidence-promotion.v1``
other steps            any JSON object
=====================  =======================================================
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from ftpolicy._internal.canonical_json import digest as canonical_digest
from ftpolicy.attest.subject import Subject
from ftpolicy.errors import FtpolicyError, ManifestError
from ftpolicy.resources import schemas_dir

STEP_EVIDENCE_SCHEMA: dict[str, str] = {
    "scan": "scan-summary",
    "dataset-review": "evidence-review",
    "security-eval": "evidence-eval",
    "quality-eval": "evidence-eval",
    "security-approval": "evidence-approval",
    "promote": "evidence-promotion",
}


class EvidenceError(FtpolicyError):
    """An evidence file is not valid for its step."""

    code = "evidence.invalid"
    exit_code = ManifestError.exit_code


def evidence_rel(subject: Subject, step: str) -> str:
    """Repo-relative path of a step's evidence file for ``subject``."""
    return f"{subject.evidence_dir}/{step}.json"


def adapter_digest(files: dict[str, str]) -> str:
    """``sha256:<hex>`` over the canonical JSON of ``{path: sha256}`` of an adapter's files."""
    return canonical_digest(dict(sorted(files.items())))


@cache
def _validator(schema_name: str) -> Any | None:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    folder = schemas_dir()
    target = folder / f"{schema_name}.v1.schema.json"
    if not target.is_file():
        return None
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.schema.json"))]
    registry: Registry[Any] = Registry().with_resources(
        [(d["$id"], Resource.from_contents(d)) for d in docs if "$id" in d]
    )
    return Draft202012Validator(
        json.loads(target.read_text(encoding="utf-8")),
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def check_evidence(step: str, data: bytes, *, display: str, subject: Subject | None = None) -> dict[str, Any]:
    """Parse and validate evidence bytes for ``step``; returns the JSON object.

    Raises :class:`EvidenceError` naming the file, the JSON pointer and what is wrong.
    """
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise EvidenceError(
            f"{display}: evidence must be UTF-8 JSON ({exc})",
            hint="write the step's evidence as a JSON object (see schemas/evidence-*.v1.schema.json)",
        ) from None
    if not isinstance(value, dict):
        raise EvidenceError(f"{display}: evidence must be a JSON object, found {type(value).__name__}")
    schema_name = STEP_EVIDENCE_SCHEMA.get(step)
    validator = _validator(schema_name) if schema_name else None
    if validator is not None:
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            pointer = "".join(f"/{p}" for p in first.absolute_path) or "/"
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise EvidenceError(
                f"{display}: {pointer}: {first.message}{more}",
                hint=f"{step} evidence must follow schemas/{schema_name}.v1.schema.json",
            )
    claimed = value.get("subject")
    scanned = value.get("dataset")
    if claimed is None and isinstance(scanned, dict) and scanned.get("ref") and subject is not None:
        claimed = f"dataset:{scanned['ref']}"  # a scan summary names its dataset, not a subject
    if subject is not None and claimed is not None and claimed != str(subject):
        raise EvidenceError(
            f"{display}: evidence is about {claimed!r}, not {str(subject)!r}",
            hint="attest evidence only for the subject it describes",
            code="evidence.subject",
        )
    return value
