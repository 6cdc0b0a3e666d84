"""``ftpolicy audit log``: the registry's promotions, rollbacks and revocations, cross-checked with Git.

:func:`audit_log` reads, at a revision (default ``HEAD``), every ``registry/<adapter>.yaml``
and walks its Git history (:meth:`~ftpolicy.git.GitRepo.file_history`, oldest first). Each
commit may only *append* history entries numbered ``seq`` = previous count + 1: an entry
changed, reordered or removed by a later commit, or the file deleted, is tampering. Each
event of the final history is reported with who and when (from the entry), the commit that
introduced it (author, time, whether Git reports that commit signed) and the attestations
behind it (the entry's promote link and the links of that adapter version at the revision).

Attestations are immutable too: a commit that modifies, renames or deletes a file under
``attestations/`` is reported as tampering (``attestation-rewritten``,
``attestation-deleted``), and so is a commit that deletes or renames a registry file
(``registry-deleted``). Each entry is cross-checked too: the commit it records (HEAD when the
operation ran) must be in the history of the commit that added it
(``registry-commit-mismatch``) and the attestation it names must exist
(``attestation-missing``). Tampering makes the log fail (exit 1); events are facts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from pathlib import Path

    from ftpolicy.git import CommitInfo, GitRepo

LOG_VERSION = "ftpolicy/audit-log/v1"
_IMMUTABLE_BREAKS = {"modified": "attestation-rewritten", "deleted": "attestation-deleted"}


@dataclass(frozen=True)
class Tamper:
    """A change Git history shows that append-only records must never see."""

    code: str
    path: str
    commit: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Stable machine form."""
        return {"code": self.code, "path": self.path, "commit": self.commit, "message": self.message}


@dataclass
class AuditLog:
    """Events (oldest first) and tampering found at one revision."""

    rev: str
    events: list[dict[str, Any]] = field(default_factory=list)
    tampering: list[Tamper] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No tampering found."""
        return not self.tampering

    def to_dict(self) -> dict[str, Any]:
        """The ``--format json`` document (``ftpolicy/audit-log/v1``)."""
        return {
            "version": LOG_VERSION,
            "rev": self.rev,
            "ok": self.ok,
            "events": self.events,
            "tampering": [t.to_dict() for t in self.tampering],
        }

    def render_text(self) -> str:
        """One line per event, then the tampering."""
        lines = [f"audit log at {self.rev[:12]}"]
        for e in self.events:
            where = f" {e['channel']}" if e.get("channel") else ""
            signed = "signed" if e["commit_signed"] else "unsigned"
            lines.append(
                f"{e['at']} {e['action']:<8} {e['adapter']}@{e['version']}{where} by {e['by']} "
                f"in {str(e['commit'])[:12]} ({signed})"
            )
            if e.get("reason"):
                lines.append(f"    reason: {e['reason']}")
            if e.get("attestation"):
                lines.append(f"    attestation: {e['attestation']}")
        if not self.events:
            lines.append("  no registry events")
        for t in self.tampering:
            lines.append(f"TAMPER {t.code}: {t.path} in {t.commit[:12]}: {t.message}")
        lines.append("result: " + ("pass" if self.ok else "fail (history was rewritten)"))
        return "\n".join(lines) + "\n"


def _history(data: bytes | None) -> list[dict[str, Any]] | None:
    """The history list of a registry file's bytes (None when unreadable)."""
    if data is None:
        return None
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("history", []), list):
        return None
    return [e for e in doc.get("history") or [] if isinstance(e, dict)]


def _describe(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> str:
    if len(new) < len(old) and new == old[: len(new)]:
        gone = ", ".join(str(e.get("seq")) for e in old[len(new) :])
        return f"history entries removed (seq {gone})"
    for i, (a, b) in enumerate(zip(old, new, strict=False)):
        if a != b:
            return f"history entry {i + 1} (seq {a.get('seq')}) was changed, reordered or removed"
    return "history entries removed"


def _registry_log(
    git: GitRepo, rev: str, rel: str, signed: dict[str, CommitInfo]
) -> tuple[list[tuple[dict[str, Any], CommitInfo]], list[Tamper]]:
    """(entry, introducing commit) for each final history entry, and the tampering seen."""
    commits = list(reversed(git.file_history(rel, rev)))
    tampering: list[Tamper] = []
    introduced: list[tuple[dict[str, Any], CommitInfo]] = []
    old: list[dict[str, Any]] = []
    for c in commits:
        signed[c.sha] = c
        new = _history(git.read_blob(c.sha, rel))
        if new is None:
            tampering.append(Tamper("registry-unreadable", rel, c.sha, "registry file deleted or unreadable"))
            old, introduced = [], []
            continue
        if len(new) < len(old) or new[: len(old)] != old:
            tampering.append(Tamper("registry-history-rewritten", rel, c.sha, _describe(old, new)))
            keep = 0
            while keep < min(len(old), len(new)) and old[keep] == new[keep]:
                keep += 1
            introduced = introduced[:keep]
        else:
            keep = len(old)
        for i, entry in enumerate(new[keep:], start=keep + 1):
            if entry.get("seq") != i:
                tampering.append(
                    Tamper("registry-seq", rel, c.sha, f"history entry {i} carries seq {entry.get('seq')}")
                )
            introduced.append((entry, c))
        old = new
    return introduced, tampering


def _attestation_tampering(git: GitRepo, rev: str, prefix: str) -> list[Tamper]:
    """Commits that modify, rename or delete files under ``prefix`` (attestations are write-once)."""
    from ftpolicy.git import GitError

    if not git.exists(rev, prefix) and not git.file_history(prefix, rev):
        return []
    out: list[Tamper] = []
    for c in reversed(git.file_history(prefix, rev)):
        try:
            changes = git.changed_paths(f"{c.sha}^", c.sha)
        except GitError:
            continue  # the root commit only adds
        for ch in changes:
            path = ch.old_path if ch.status == "renamed" and ch.old_path else ch.path
            if not path.startswith(prefix.rstrip("/") + "/"):
                continue
            code = _IMMUTABLE_BREAKS.get(ch.status) or (
                "attestation-rewritten" if ch.status != "added" else ""
            )
            if ch.status in ("added", "copied") or not code:
                continue
            out.append(Tamper(code, path, c.sha, f"{path} was {ch.status} after it was committed"))
    return out


def _registry_deletions(git: GitRepo, rev: str, adapter: str | None) -> list[Tamper]:
    """Commits that delete or rename a ``registry/<adapter>.yaml`` (the whole history gone)."""
    from ftpolicy.git import GitError

    if not git.file_history("registry", rev):
        return []
    out: list[Tamper] = []
    for c in reversed(git.file_history("registry", rev)):
        try:
            changes = git.changed_paths(f"{c.sha}^", c.sha)
        except GitError:
            continue
        for ch in changes:
            path = ch.old_path if ch.status == "renamed" and ch.old_path else ch.path
            if ch.status not in ("deleted", "renamed") or path.count("/") != 1:
                continue
            if not path.startswith("registry/") or not path.endswith(".yaml"):
                continue
            if adapter is not None and path != f"registry/{adapter}.yaml":
                continue
            out.append(Tamper("registry-deleted", path, c.sha, f"{path} (its whole history) was {ch.status}"))
    return out


def _cross_check(git: GitRepo, rev: str, rel: str, entry: dict[str, Any], c: CommitInfo) -> list[Tamper]:
    """What Git says against one history entry: the HEAD it records, the attestation it names."""
    from ftpolicy.git import GitError

    out: list[Tamper] = []
    seq = entry.get("seq")
    recorded = entry.get("commit")
    if isinstance(recorded, str):
        try:
            known = git.merge_base(recorded, c.sha) == git.rev_parse(recorded)
        except GitError:
            known = False
        if not known:
            out.append(
                Tamper(
                    "registry-commit-mismatch",
                    rel,
                    c.sha,
                    f"history entry {seq} records commit {recorded[:12]}, which is not in the history "
                    f"of the commit that added the entry",
                )
            )
    attestation = entry.get("attestation")
    if isinstance(attestation, str) and not git.exists(rev, attestation):
        out.append(
            Tamper(
                "attestation-missing",
                attestation,
                c.sha,
                f"history entry {seq} of {rel} names {attestation}, which is not in the repository",
            )
        )
    return out


def _since(value: str | None) -> dt.datetime | None:
    from ftpolicy.errors import UsageError
    from ftpolicy.identities import parse_time

    if value is None:
        return None
    text = value if "T" in value else value + "T00:00:00Z"
    try:
        return parse_time(text, where="--since")
    except UsageError:
        raise UsageError(
            f"--since {value!r} is not a date", hint="use YYYY-MM-DD or an RFC 3339 time", code="audit.since"
        ) from None


def audit_log(
    repo: Path, rev: str = "HEAD", *, adapter: str | None = None, since: str | None = None
) -> AuditLog:
    """Registry events and tampering at ``rev`` (see the module doc)."""
    from ftpolicy.errors import UsageError
    from ftpolicy.git import GitRepo
    from ftpolicy.identities import parse_time

    after = _since(since)
    with GitRepo.open(repo) as git:
        sha = git.rev_parse(rev)
        result = AuditLog(sha)
        names = sorted(
            p[len("registry/") : -len(".yaml")]
            for p in git.list_files(sha, "registry")
            if p.count("/") == 1 and p.endswith(".yaml")
        )
        if adapter is not None:
            names = [n for n in names if n == adapter]
        infos: dict[str, CommitInfo] = {}
        links_at = (
            git.list_files(sha, "attestations/adapter") if git.exists(sha, "attestations/adapter") else []
        )
        for name in names:
            rel = f"registry/{name}.yaml"
            introduced, tampering = _registry_log(git, sha, rel, infos)
            result.tampering += tampering
            for entry, c in introduced:
                result.tampering += _cross_check(git, sha, rel, entry, c)
                when = str(entry.get("at", ""))
                if after is not None:
                    try:
                        if parse_time(when, where=rel) < after:
                            continue
                    except UsageError:
                        pass  # an unreadable time is listed rather than filtered out
                folder = f"attestations/adapter/{name}/{entry.get('version')}/"
                result.events.append(
                    {
                        "adapter": name,
                        "seq": entry.get("seq"),
                        "action": entry.get("action"),
                        "version": entry.get("version"),
                        "channel": entry.get("channel"),
                        "digest": entry.get("digest"),
                        "by": entry.get("by"),
                        "at": when,
                        "reason": entry.get("reason"),
                        "previous": entry.get("previous"),
                        "attestation": entry.get("attestation"),
                        "recorded_head": entry.get("commit"),
                        "commit": c.sha,
                        "commit_author": f"{c.author_name} <{c.author_email}>",
                        "commit_time": c.committer_time,
                        "commit_signed": c.signature == "good",
                        "commit_signature": c.signature,
                        "links": [p for p in links_at if p.startswith(folder) and p.endswith(".link")],
                    }
                )
        result.tampering += _registry_deletions(git, sha, adapter)
        prefix = f"attestations/adapter/{adapter}" if adapter else "attestations"
        result.tampering += _attestation_tampering(git, sha, prefix)
    result.events.sort(key=lambda e: (e["at"], e["adapter"], e["seq"] or 0))
    result.tampering.sort(key=lambda t: (t.code, t.path, t.commit))
    return result


def render(result: AuditLog, fmt: str) -> str:
    """``text`` or ``json`` (sorted keys)."""
    import json

    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n"
    return result.render_text()
