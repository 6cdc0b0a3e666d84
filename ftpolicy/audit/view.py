"""A read-only view of the governed repository: the work tree, or a Git revision from objects alone.

:class:`RepoView` is the small protocol the audit needs (``read`` a file, ``list`` files
under a folder). :class:`GitRevisionView` reads a commit through
:class:`~ftpolicy.git.GitRepo` (``git ls-tree`` / ``git cat-file``), so it works in a bare
clone and never looks at the work tree. :func:`materialize` writes a view's files into a
private scratch folder, for the code that wants a folder on disk (in-toto verification
reads files by path); the scratch folder is the only thing written.
"""

from __future__ import annotations

import builtins
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ftpolicy.errors import PathEscapeError
from ftpolicy.git import GitError, GitRepo


class RepoView(Protocol):
    """Read access to the files of a governed repository (repository-relative, ``/`` separated)."""

    label: str

    def read(self, path: str) -> bytes | None:
        """The bytes of ``path``, or None when it is not a file of the view."""
        ...

    def list(self, prefix: str = "") -> builtins.list[str]:
        """Sorted file paths at or under ``prefix`` (``""``: every file)."""
        ...


@dataclass
class WorkTreeView:
    """The files of a folder on disk (the current work tree)."""

    root: Path
    label: str = "work tree"

    def read(self, path: str) -> bytes | None:
        """The bytes of ``path`` under the root, or None when it is not a regular file there."""
        target = _safe_join(self.root, path)
        return target.read_bytes() if target.is_file() else None

    def list(self, prefix: str = "") -> builtins.list[str]:
        """Sorted files under ``prefix`` (``.git`` left out)."""
        base = _safe_join(self.root, prefix) if prefix else self.root
        if base.is_file():
            return [prefix.strip("/")]
        out: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            for name in filenames:
                out.append(Path(dirpath, name).relative_to(self.root).as_posix())
        return sorted(out)


@dataclass
class GitRevisionView:
    """The files of one commit, read from Git objects (no checkout; bare clones work)."""

    git: GitRepo
    rev: str
    label: str = ""
    _files: builtins.list[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.rev = self.git.rev_parse(self.rev)  # pin the commit: later reads never move
        self.label = self.label or self.rev[:12]

    def files(self) -> builtins.list[str]:
        """Every file path of the commit, sorted (cached)."""
        if self._files is None:
            self._files = self.git.list_files(self.rev)
        return self._files

    def read(self, path: str) -> bytes | None:
        """The blob at ``path`` in the commit, or None."""
        return self.git.read_blob(self.rev, path)

    def list(self, prefix: str = "") -> builtins.list[str]:
        """Sorted files at or under ``prefix`` in the commit."""
        clean = prefix.strip("/")
        if not clean:
            return list(self.files())
        return [p for p in self.files() if p == clean or p.startswith(clean + "/")]

    def read_many(self, paths: builtins.list[str]) -> dict[str, bytes | None]:
        """Several blobs in one ``git cat-file --batch`` round."""
        return self.git.read_blobs(self.rev, paths)


def _safe_join(root: Path, rel: str) -> Path:
    parts = Path(rel).parts
    if Path(rel).is_absolute() or ".." in parts:
        raise PathEscapeError(f"{rel}: path leaves the repository", code="audit.path")
    return root / rel


def _read_each(view: RepoView, paths: list[str]) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for rel in paths:
        try:
            out[rel] = view.read(rel)
        except GitError:
            out[rel] = None  # symbolic links are never content
    return out


def materialize(view: RepoView, dest: Path, prefixes: tuple[str, ...] = ("",)) -> list[str]:
    """Write the view's files under ``prefixes`` into ``dest`` (a scratch folder); returns their paths.

    Only regular files are written, each confined to ``dest``. A
    :class:`GitRevisionView` reads all blobs in one batch.
    """
    paths = sorted({p for prefix in prefixes for p in view.list(prefix)})
    try:
        blobs = view.read_many(paths) if isinstance(view, GitRevisionView) else _read_each(view, paths)
    except GitError:
        blobs = _read_each(view, paths)  # a symbolic link in the tree: read file by file, skip links
    written: list[str] = []
    for rel in paths:
        data = blobs.get(rel)
        if data is None:
            continue
        target = _safe_join(dest, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(rel)
    return written
