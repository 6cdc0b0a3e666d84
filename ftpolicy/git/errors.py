"""Errors of the Git access layer.

:class:`GitError` and :class:`RevisionNotFound` are defined in :mod:`ftpolicy.errors` (so the
CLI can render them without importing Git code) and re-exported here with two more specific
subclasses. All of them exit with code 2: Git could not answer, which is never a pass.
"""

from __future__ import annotations

from ftpolicy.errors import GitError, RevisionNotFound

SHALLOW_HINT = (
    "the revision is not in this clone; if this is a shallow clone (actions/checkout default) "
    "fetch full history with fetch-depth: 0"
)
"""Hint given when a revision or merge base is missing and the clone is shallow."""

NOT_FOUND_HINT = "check the name with git log"
"""Hint given when a revision is missing from a complete clone."""


class ShallowCloneError(GitError):
    """The answer needs history that a shallow clone does not have (e.g. a merge base)."""

    code = "git.shallow-clone"


class UnrelatedHistoriesError(GitError):
    """Two revisions share no history, so there is no merge base to diff against."""

    code = "git.unrelated-histories"


class NotARepositoryError(GitError):
    """The folder is not inside a Git repository."""

    code = "git.not-a-repository"


__all__ = [
    "NOT_FOUND_HINT",
    "SHALLOW_HINT",
    "GitError",
    "NotARepositoryError",
    "RevisionNotFound",
    "ShallowCloneError",
    "UnrelatedHistoriesError",
]
