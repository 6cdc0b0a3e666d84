"""Git access for ftpolicy: read any revision through Git objects, never the work tree.

>>> from ftpolicy.git import GitRepo
>>> repo = GitRepo.open(Path("."))  # doctest: +SKIP
>>> repo.read_blob("origin/main", "ftpolicy.yaml")  # doctest: +SKIP
b'schema_version: 1\\n...'
"""

from ftpolicy.git.errors import (
    GitError,
    NotARepositoryError,
    RevisionNotFound,
    ShallowCloneError,
    UnrelatedHistoriesError,
)
from ftpolicy.git.repo import (
    SIGNATURE_LETTERS,
    ChangedPath,
    ChangeStatus,
    CommitInfo,
    GitRepo,
    SignatureStatus,
)

__all__ = [
    "SIGNATURE_LETTERS",
    "ChangeStatus",
    "ChangedPath",
    "CommitInfo",
    "GitError",
    "GitRepo",
    "NotARepositoryError",
    "RevisionNotFound",
    "ShallowCloneError",
    "SignatureStatus",
    "UnrelatedHistoriesError",
]
