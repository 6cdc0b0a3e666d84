"""Typed errors shared by the library and the CLI.

Every failure a user can cause or meet is an :class:`FtpolicyError` with a stable
``code`` (e.g. ``manifest.invalid``), a message, an optional hint that says how to fix
it, and an optional location (file, line, column). The library never prints; the CLI
renders an error exactly once (``ftpolicy.cli.main``) and maps it to an exit code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, part of the public CLI contract."""

    OK = 0
    VIOLATION = 1  # policy violation, invalid manifest, verification failed
    USAGE = 2  # usage or configuration error
    EVALUATION = 3  # could not evaluate (engine unreachable, policy does not compile)


@dataclass(frozen=True)
class Location:
    """A place in a file: path as the user should read it, 1-based line and column."""

    path: str
    line: int | None = None
    column: int | None = None
    pointer: str | None = None  # JSON pointer inside the document, when known

    def __str__(self) -> str:
        out = self.path
        if self.line is not None:
            out += f":{self.line}"
            if self.column is not None:
                out += f":{self.column}"
        return out


class FtpolicyError(Exception):
    """Base class of every error ftpolicy raises on purpose."""

    code: str = "error"
    exit_code: ExitCode = ExitCode.USAGE

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        location: Location | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location
        if code is not None:
            self.code = code

    def diagnostics(self) -> str:
        """Text a person can act on: where, what, and how to fix it."""
        head = f"{self.location}: " if self.location else ""
        out = f"{head}{self.message}"
        if self.hint:
            out += f"\n  hint: {self.hint}"
        return out

    def to_dict(self) -> dict[str, object]:
        """Stable machine form used by ``--format json``."""
        data: dict[str, object] = {"code": self.code, "message": self.message}
        if self.hint:
            data["hint"] = self.hint
        if self.location:
            data["file"] = self.location.path
            if self.location.line is not None:
                data["line"] = self.location.line
            if self.location.column is not None:
                data["column"] = self.location.column
            if self.location.pointer is not None:
                data["pointer"] = self.location.pointer
        return data


class UsageError(FtpolicyError):
    """The command was called wrongly (bad argument, missing file)."""

    code = "usage"
    exit_code = ExitCode.USAGE


class ConfigError(FtpolicyError):
    """The governed repository's configuration cannot be used."""

    code = "config.invalid"
    exit_code = ExitCode.USAGE


class ManifestError(FtpolicyError):
    """A manifest is malformed or does not satisfy its schema."""

    code = "manifest.invalid"
    exit_code = ExitCode.VIOLATION


class PathEscapeError(ManifestError):
    """A path in a manifest leaves the repository (absolute, ``..`` or a symlink)."""

    code = "path.escape"


class ImmutableVersionError(FtpolicyError):
    """A published version already exists and versions are never overwritten."""

    code = "version.exists"
    exit_code = ExitCode.VIOLATION


class GitError(FtpolicyError):
    """Git could not answer (not a repository, unknown revision, shallow clone)."""

    code = "git.error"
    exit_code = ExitCode.USAGE


class RevisionNotFound(GitError):
    """A revision does not exist in the repository (often: a shallow clone)."""

    code = "git.revision-not-found"


class EvaluationError(FtpolicyError):
    """A policy could not be evaluated; never treated as a pass."""

    code = "policy.evaluation"
    exit_code = ExitCode.EVALUATION
