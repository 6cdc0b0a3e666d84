"""Read a Git repository without touching its work tree.

Everything here reads Git *objects* (commits, trees, blobs), never the files checked out on
disk, so a policy decision about revision ``X`` is about what ``X`` holds, whatever the work
tree looks like. Commands go through GitPython: object reads use its persistent
``git cat-file`` processes, the rest shells out through ``repo.git`` with fixed argument lists
(revisions are resolved to object ids first, paths are passed after ``--`` as literal
pathspecs, ``refs/replace`` is ignored).

>>> from ftpolicy.git import GitRepo
>>> with GitRepo.open(Path(".")) as repo:  # doctest: +SKIP
...     head = repo.rev_parse("HEAD")
...     changes = repo.changed_paths("origin/main", head)

Commit signature status comes from ``git log --format=%G?``; its letters map as follows
(see ``git help log``, "PRETTY FORMATS"):

====  ================  ==================================================================
%G?   ``signature``     meaning
====  ================  ==================================================================
G     ``good``          good (valid) signature
B     ``bad``           bad signature: the commit or the signature was altered
U     ``unknown-key``   good signature by a key whose validity is unknown (not trusted)
X     ``expired``       good signature that has expired
Y     ``expired``       good signature made by an expired key
R     ``revoked``       good signature made by a revoked key
E     ``error``         the signature cannot be checked (e.g. the public key is missing)
N     ``none``          no signature
====  ================  ==================================================================

Git also answers ``N`` for a commit that *is* signed when it has no way to check that kind of
signature (e.g. an SSH signature without ``gpg.ssh.allowedSignersFile``); this module looks at
the commit object and reports such a commit as ``error``, never as ``none``. For SSH
signatures Git says ``G`` for any key listed in the allowed-signers file, whatever principal
it is listed under: matching the signer to a person is the caller's job (``signer_key``).

Only ``good`` means Git verified the signature with a trusted key; policies must treat every
other value as "not verified" (fail closed).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from ftpolicy.errors import PathEscapeError
from ftpolicy.git.errors import (
    NOT_FOUND_HINT,
    SHALLOW_HINT,
    GitError,
    NotARepositoryError,
    RevisionNotFound,
    ShallowCloneError,
    UnrelatedHistoriesError,
)

if TYPE_CHECKING:
    import git

ChangeStatus = Literal["added", "modified", "deleted", "renamed", "copied", "type-changed"]
"""How a path changed between two revisions (``git diff --name-status`` letters A M D R C T)."""

SignatureStatus = Literal["good", "bad", "unknown-key", "none", "expired", "revoked", "error"]
"""Commit signature status mapped from ``%G?`` (table in the module docstring)."""

_STATUS_LETTERS: dict[str, ChangeStatus] = {
    "A": "added",
    "M": "modified",
    "D": "deleted",
    "R": "renamed",
    "C": "copied",
    "T": "type-changed",
}

SIGNATURE_LETTERS: dict[str, SignatureStatus] = {
    "G": "good",
    "B": "bad",
    "U": "unknown-key",
    "X": "expired",
    "Y": "expired",
    "R": "revoked",
    "E": "error",
    "N": "none",
}
"""``%G?`` letter -> :data:`SignatureStatus`; an unknown letter maps to ``error``."""

# One commit per record: fields separated by US (0x1f), records started by RS (0x1e).
_LOG_FIELDS = ("%H", "%an", "%ae", "%at", "%cn", "%ce", "%ct", "%G?", "%GK", "%s")
_LOG_FORMAT = "--format=%x1e" + "%x1f".join(_LOG_FIELDS)
_LOG_OPTIONS = ("--no-show-signature", "--no-color", "--encoding=UTF-8", _LOG_FORMAT)

# Applied to every git process this module starts, including GitPython's cat-file workers.
_GIT_ENV = {
    "GIT_LITERAL_PATHSPECS": "1",  # a path is a path, never a glob or ':(magic)'
    "GIT_NO_REPLACE_OBJECTS": "1",  # local refs/replace must not change what a commit holds
    "GIT_OPTIONAL_LOCKS": "0",  # reading never takes the index lock
    "GIT_TERMINAL_PROMPT": "0",  # never wait for a password
}

_SYMLINK_MODE = 0o120000
# A clean relative path: segments without '/', '\\' or NUL, none of them '.' or '..'.
_SIMPLE_PATH = re.compile(r"(?!\.\.?(?:/|$))[^/\\\x00:]+(?:/(?!\.\.?(?:/|$))[^/\\\x00]+)*\Z")


@dataclass(frozen=True)
class _TreeEntry:
    mode: int
    kind: str  # blob | tree | commit (submodule)
    oid: str


@dataclass(frozen=True)
class ChangedPath:
    """One path that differs between two revisions.

    ``path`` is the path at the newer revision (for ``deleted``: the path that was removed);
    ``old_path`` is set for ``renamed`` and ``copied`` only.
    """

    status: ChangeStatus
    path: str
    old_path: str | None = None


@dataclass(frozen=True)
class CommitInfo:
    """Who made a commit and whether Git could verify its signature.

    Times are ISO 8601 in UTC (``2026-11-02T09:00:00Z``); ``signature`` is described in the
    module docstring; ``signer_key`` is Git's ``%GK`` (the signing key id) or None.
    """

    sha: str
    author_name: str
    author_email: str
    author_time: str
    committer_name: str
    committer_email: str
    committer_time: str
    message_subject: str
    signature: SignatureStatus
    signer_key: str | None


def _iso_utc(epoch: str) -> str:
    return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean_path(path: str, *, allow_empty: bool = False) -> str:
    """Normalise a repository-relative POSIX path; refuse absolute paths and ``..``."""
    if _SIMPLE_PATH.match(path):  # fast path: already clean
        return path
    if "\x00" in path or "\\" in path:
        raise PathEscapeError(
            f"path {path!r} contains a backslash or NUL byte", hint="use '/' between folder names"
        )
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise PathEscapeError(
            f"absolute path '{path}' is not allowed", hint="write the path relative to the repository root"
        )
    parts = [p for p in PurePosixPath(path).parts if p not in (".", "")]
    if ".." in parts:
        raise PathEscapeError(
            f"path '{path}' uses '..' to leave its folder",
            hint="write the path relative to the repository root without '..'",
        )
    clean = "/".join(parts)
    if not clean and not allow_empty:
        raise PathEscapeError("empty path", hint="name a file relative to the repository root")
    return clean


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="surrogateescape")


def _load_gitpython() -> Any:
    try:
        import git
    except ImportError as exc:  # GitPython refuses to import when no git program is found
        raise GitError(
            f"Git is not available: {str(exc).splitlines()[0] if str(exc) else exc!r}",
            hint="install Git and make sure the `git` program is on PATH",
            code="git.not-installed",
        ) from None
    return git


class GitRepo:
    """A Git repository (work tree or bare) read through Git objects only.

    Create one with :meth:`GitRepo.open`. Use it as a context manager (or call
    :meth:`close`) to stop the helper ``git cat-file`` processes.
    """

    def __init__(self, repo: git.Repo) -> None:
        """Wrap an open GitPython repository; prefer :meth:`GitRepo.open`."""
        self._repo = repo
        self._repo.git.update_environment(**_GIT_ENV)
        self.is_bare: bool = bool(repo.bare)
        top = repo.git_dir if repo.bare or repo.working_tree_dir is None else repo.working_tree_dir
        self.root: Path = Path(top).resolve()
        self._commits: set[str] = set()  # full commit ids already verified by rev_parse
        self._folders: dict[tuple[str, str], dict[str, _TreeEntry]] = {}  # (commit, folder) -> entries
        out = self._git("rev-parse", "--is-shallow-repository")
        self.is_shallow: bool = _decode(out).strip() == "true"

    @classmethod
    def open(cls, path: Path) -> GitRepo:
        """Open the repository that contains ``path`` (any file or folder inside it, or a bare repo).

        Raises :class:`NotARepositoryError` (a :class:`GitError`) when there is none.
        """
        gitpython = _load_gitpython()
        path = Path(path)
        if path.is_file():
            path = path.parent
        if not path.exists():
            raise NotARepositoryError(
                f"{path}: no such folder", hint="pass the folder of a Git repository (a clone)"
            )
        try:
            repo = gitpython.Repo(path, search_parent_directories=True)
        except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError):
            raise NotARepositoryError(
                f"{path} is not inside a Git repository",
                hint="run ftpolicy inside a clone of the governed repository, or create one with `git init`",
            ) from None
        return cls(repo)

    # -- life cycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Stop GitPython's helper processes; the object must not be used afterwards."""
        self._repo.close()

    def __enter__(self) -> GitRepo:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GitRepo({str(self.root)!r}, bare={self.is_bare}, shallow={self.is_shallow})"

    # -- plumbing ---------------------------------------------------------------------------

    def _git(self, *args: str, ok: tuple[int, ...] = (0,)) -> bytes:
        """Run ``git ARGS`` in the repository and return stdout bytes; raise GitError otherwise."""
        status, out, err = self._run(*args)
        if status not in ok:
            raise self._failure(args, err)
        return out

    def _run(self, *args: str) -> tuple[int, bytes, str]:
        cmd = self._repo.git
        try:
            result: Any = cmd.execute(
                [cmd.GIT_PYTHON_GIT_EXECUTABLE, *args],
                with_extended_output=True,
                with_exceptions=False,
                stdout_as_string=False,
                strip_newline_in_stdout=False,
            )
        except OSError as exc:
            raise GitError(
                f"could not run git: {exc}",
                hint="install Git and make sure the `git` program is on PATH",
                code="git.not-installed",
            ) from None
        status, out, err = result
        if isinstance(err, bytes):
            err = _decode(err)
        return int(status), bytes(out or b""), str(err or "")

    def _failure(self, args: tuple[str, ...], stderr: str) -> GitError:
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        detail = lines[-1] if lines else "no message"
        if "dubious ownership" in stderr:
            return GitError(
                f"git refuses to read {self.root}: the folder is owned by another user",
                hint=f"trust it with: git config --global --add safe.directory {self.root}",
                code="git.unsafe-directory",
            )
        return GitError(
            f"git {args[0]} failed in {self.root}: {detail}", hint="run the same git command to see why"
        )

    def _not_found(self, rev: str) -> RevisionNotFound:
        if self.is_shallow:
            return RevisionNotFound(f"revision '{rev}' not found (shallow clone)", hint=SHALLOW_HINT)
        return RevisionNotFound(f"revision '{rev}' not found in {self.root}", hint=NOT_FOUND_HINT)

    # -- revisions --------------------------------------------------------------------------

    def rev_parse(self, rev: str) -> str:
        """The full commit id (40 hex, 64 for SHA-256 repositories) that ``rev`` names.

        Tags are peeled to their commit. Raises :class:`RevisionNotFound` (with the
        ``fetch-depth: 0`` hint in a shallow clone) when the revision is not in this clone.
        """
        if rev in self._commits:  # a full commit id verified before: object ids never change
            return rev
        if not rev or not rev.strip() or any(c in rev for c in "\x00\n\r"):
            raise RevisionNotFound(f"invalid revision {rev!r}", hint=NOT_FOUND_HINT)
        status, out, _ = self._run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"
        )
        sha = _decode(out).strip()
        if status != 0 or not sha:
            raise self._not_found(rev)
        self._commits.add(sha)
        return sha

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of ``a`` and ``b``, or None when they share no history."""
        sa, sb = self.rev_parse(a), self.rev_parse(b)
        out = self._git("merge-base", sa, sb, ok=(0, 1))
        sha = _decode(out).strip()
        return sha or None

    # -- content at a revision --------------------------------------------------------------

    def _ls_tree(self, sha: str, folder: str, *, recursive: bool) -> dict[str, _TreeEntry]:
        """Entries of ``folder`` (``""``: the root) at commit ``sha``, keyed by full path."""
        args = ["ls-tree", "-z", "--full-tree"]
        if recursive:
            args += ["-r", "-t"]
        args.append(sha)
        if folder:
            args += ["--", folder + "/"]
        entries: dict[str, _TreeEntry] = {}
        for record in self._git(*args).split(b"\x00"):
            if record:
                meta, _, name = record.partition(b"\t")
                mode, kind, oid = meta.split(b" ", 2)
                entries[_decode(name)] = _TreeEntry(int(mode, 8), kind.decode("ascii"), oid.decode("ascii"))
        return entries

    def _entry(self, rev: str, path: str) -> _TreeEntry | None:
        """The tree entry at ``path`` in ``rev`` (folders listed once per commit, then cached)."""
        sha = self.rev_parse(rev)
        parent = path.rpartition("/")[0]
        key = (sha, parent)
        listing = self._folders.get(key)
        if listing is None:
            listing = self._folders[key] = self._ls_tree(sha, parent, recursive=False)
        return listing.get(path)

    @staticmethod
    def _check_file(entry: _TreeEntry, path: str, rev: str) -> None:
        if entry.kind != "blob":
            what = "a folder" if entry.kind == "tree" else "a submodule"
            raise GitError(
                f"{path} is {what} at {rev}, not a file", hint="name a file", code="git.not-a-file"
            )
        if entry.mode == _SYMLINK_MODE:
            raise GitError(
                f"{path} is a symbolic link at {rev}; ftpolicy reads regular files only",
                hint="commit the file itself instead of a link to it",
                code="git.symlink",
            )

    def read_blob(self, rev: str, path: str) -> bytes | None:
        """Bytes of the file ``path`` as committed in ``rev``; None if there is no such path.

        Reads Git objects only: the work tree and the index are never consulted. A folder,
        a submodule or a symbolic link at ``path`` raises :class:`GitError` (a symlink's
        blob is its target, not file content, so it is never returned as content).
        For thousands of files use :meth:`read_blobs`.
        """
        clean = _clean_path(path)
        entry = self._entry(rev, clean)
        if entry is None:
            return None
        self._check_file(entry, clean, rev)
        return bytes(self._repo.odb.stream(bytes.fromhex(entry.oid)).read())

    def read_blobs(self, rev: str, paths: Iterable[str]) -> dict[str, bytes | None]:
        """:meth:`read_blob` for many paths of one revision: one tree listing, one ``cat-file``.

        Returns ``{path as given: bytes or None}``; same rules as :meth:`read_blob`.
        """
        sha = self.rev_parse(rev)
        wanted = {p: _clean_path(p) for p in paths}
        if not wanted:
            return {}
        listing = self._ls_tree(sha, "", recursive=True)
        oids: dict[str, str] = {}
        for clean in wanted.values():
            entry = listing.get(clean)
            if entry is not None:
                self._check_file(entry, clean, rev)
                oids[clean] = entry.oid
        blobs = self._cat_blobs(sorted(set(oids.values())))
        return {orig: (blobs[oids[clean]] if clean in oids else None) for orig, clean in wanted.items()}

    def _cat_blobs(self, oids: list[str]) -> dict[str, bytes]:
        """Contents of blobs by id through one ``git cat-file --batch`` process."""
        if not oids:
            return {}
        cmd = self._repo.git
        proc: Any = cmd.execute(
            [cmd.GIT_PYTHON_GIT_EXECUTABLE, "cat-file", "--batch"], as_process=True, istream=subprocess.PIPE
        )
        out, err = proc.proc.communicate(("\n".join(oids) + "\n").encode("ascii"))
        if proc.proc.returncode != 0:
            raise self._failure(("cat-file",), _decode(err or b""))
        blobs: dict[str, bytes] = {}
        pos = 0
        for oid in oids:
            eol = out.index(b"\n", pos)
            header = out[pos:eol].split(b" ")
            if len(header) != 3 or header[0].decode("ascii") != oid:
                raise GitError(f"git cat-file could not read object {oid}", hint="run git fsck")
            size = int(header[2])
            blobs[oid] = bytes(out[eol + 1 : eol + 1 + size])
            pos = eol + 1 + size + 1
        return blobs

    def exists(self, rev: str, path: str) -> bool:
        """Whether ``path`` names anything (file, symlink, folder, submodule) in ``rev``."""
        return self._entry(rev, _clean_path(path)) is not None

    def list_files(self, rev: str, prefix: str = "") -> list[str]:
        """Sorted paths of the files (blobs, symlinks included) at or under ``prefix`` in ``rev``.

        ``prefix`` is a folder (``datasets`` or ``datasets/``) or a file path; ``""`` lists
        the whole tree. Submodules are not files and are left out.
        """
        clean = _clean_path(prefix, allow_empty=True)
        sha = self.rev_parse(rev)
        args = ["ls-tree", "-r", "-z", "--full-tree", sha]
        if clean:
            args += ["--", clean]
        out = self._git(*args)
        files: list[str] = []
        for record in out.split(b"\x00"):
            if not record:
                continue
            meta, _, name = record.partition(b"\t")
            _mode, kind, _obj = meta.split(b" ", 2)
            if kind == b"blob":
                files.append(_decode(name))
        return sorted(files)

    # -- changes ----------------------------------------------------------------------------

    def changed_paths(self, base: str, head: str) -> list[ChangedPath]:
        """Paths changed on ``head`` since it left ``base``: ``git diff base...head``.

        Compares the merge base of ``base`` and ``head`` with ``head`` (what a pull request
        shows), with rename and copy detection on. Sorted by path. Raises
        :class:`UnrelatedHistoriesError` when the two share no history, and
        :class:`ShallowCloneError` when that is because the clone is shallow.
        """
        base_sha, head_sha = self.rev_parse(base), self.rev_parse(head)
        mb = self.merge_base(base_sha, head_sha)
        if mb is None:
            if self.is_shallow:
                raise ShallowCloneError(
                    f"no merge base between '{base}' and '{head}' in this shallow clone", hint=SHALLOW_HINT
                )
            raise UnrelatedHistoriesError(
                f"'{base}' and '{head}' share no history, so there is no merge base to compare against",
                hint="pass as base the branch the change was made from (e.g. origin/main)",
            )
        out = self._git(
            "diff",
            "--name-status",
            "-z",
            "-M",
            "-C",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--no-relative",
            mb,
            head_sha,
            "--",
        )
        tokens = [_decode(t) for t in out.split(b"\x00")]
        changes: list[ChangedPath] = []
        i = 0
        while i < len(tokens):
            code = tokens[i]
            if not code:
                i += 1
                continue
            status = _STATUS_LETTERS.get(code[0])
            if status is None:
                raise GitError(
                    f"git diff reported an unexpected change status {code!r}",
                    hint="report this with the output of git diff --name-status",
                )
            if status in ("renamed", "copied"):
                changes.append(ChangedPath(status, tokens[i + 2], tokens[i + 1]))
                i += 3
            else:
                changes.append(ChangedPath(status, tokens[i + 1], None))
                i += 2
        return sorted(changes, key=lambda c: (c.path, c.status))

    # -- commits ----------------------------------------------------------------------------

    def _log(self, *args: str) -> list[CommitInfo]:
        out = _decode(self._git("log", *_LOG_OPTIONS, *args))
        commits: list[CommitInfo] = []
        for record in out.split("\x1e"):
            if not record.strip():
                continue
            fields = record.rstrip("\n").split("\x1f")
            if len(fields) != len(_LOG_FIELDS):
                raise GitError(
                    f"could not parse git log output for commit {fields[0][:40]!r}",
                    hint="a name or subject contains control characters",
                )
            sha, an, ae, at, cn, ce, ct, sig, key, subject = fields
            status = SIGNATURE_LETTERS.get(sig, "error")
            if status == "none" and self._has_signature_header(sha):
                status = "error"  # signed, but Git has no verifier configured for it
            commits.append(
                CommitInfo(
                    sha=sha,
                    author_name=an,
                    author_email=ae,
                    author_time=_iso_utc(at),
                    committer_name=cn,
                    committer_email=ce,
                    committer_time=_iso_utc(ct),
                    message_subject=subject,
                    signature=status,
                    signer_key=key or None,
                )
            )
        return commits

    def _has_signature_header(self, sha: str) -> bool:
        """Whether the raw commit object carries a signature (``gpgsig`` header)."""
        raw = bytes(self._repo.odb.stream(bytes.fromhex(sha)).read())
        headers = raw.split(b"\n\n", 1)[0]
        return b"\ngpgsig " in headers or b"\ngpgsig-sha256 " in headers

    def commit_info(self, rev: str) -> CommitInfo:
        """Author, committer, subject and signature status of one commit."""
        sha = self.rev_parse(rev)
        found = self._log("-n1", "--no-walk", sha, "--")
        if not found:
            raise self._not_found(rev)
        return found[0]

    def commits_between(self, base: str, head: str) -> list[CommitInfo]:
        """Commits reachable from ``head`` but not from ``base`` (``base..head``), oldest first."""
        base_sha, head_sha = self.rev_parse(base), self.rev_parse(head)
        return self._log("--topo-order", "--reverse", f"{base_sha}..{head_sha}", "--")

    def file_history(self, path: str, rev: str = "HEAD") -> list[CommitInfo]:
        """Commits reachable from ``rev`` that changed ``path``, newest first.

        Renames are not followed: the history of a file that was moved starts at the move.
        Side branches are included (``--full-history``), so a change later undone by a merge
        still shows up.
        """
        clean = _clean_path(path)
        sha = self.rev_parse(rev)
        return self._log("--topo-order", "--full-history", sha, "--", clean)
