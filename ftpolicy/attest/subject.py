"""Attestation subjects: ``dataset:NAME@VERSION`` and ``adapter:NAME@VERSION``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ftpolicy.errors import UsageError

ATTESTATIONS_DIR = "attestations"
SUBJECT_KINDS = ("dataset", "adapter")
_NAME = r"[a-z0-9][a-z0-9._-]{0,63}"
_VERSION = r"[0-9A-Za-z][0-9A-Za-z._+-]{0,63}"
_SUBJECT_RE = re.compile(rf"^(?P<kind>dataset|adapter):(?P<name>{_NAME})@(?P<version>{_VERSION})$")


@dataclass(frozen=True)
class Subject:
    """What a chain of attestations is about: a dataset version or an adapter version."""

    kind: str
    name: str
    version: str

    @classmethod
    def parse(cls, text: str) -> Subject:
        """Parse ``dataset:NAME@VER`` or ``adapter:NAME@VER``."""
        m = _SUBJECT_RE.match(text.strip())
        if not m:
            raise UsageError(
                f"invalid subject {text!r}",
                hint="write dataset:NAME@VERSION or adapter:NAME@VERSION, e.g. adapter:support-bot@1.0.0",
                code="subject.invalid",
            )
        return cls(m["kind"], m["name"], m["version"])

    @property
    def ref(self) -> str:
        """``NAME@VERSION``."""
        return f"{self.name}@{self.version}"

    @property
    def dir(self) -> str:
        """Repo-relative folder holding this subject's links: ``attestations/KIND/NAME/VERSION``."""
        return f"{ATTESTATIONS_DIR}/{self.kind}/{self.name}/{self.version}"

    @property
    def evidence_dir(self) -> str:
        """Repo-relative folder holding this subject's evidence files."""
        return f"{self.dir}/evidence"

    @property
    def manifest_path(self) -> str:
        """Repo-relative path of the subject's manifest (``datasets/N/V.yaml`` or ``adapters/N/V.yaml``)."""
        return f"{self.kind}s/{self.name}/{self.version}.yaml"

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}@{self.version}"
