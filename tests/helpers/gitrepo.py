"""Build real Git repositories in a temporary folder for tests.

The helper drives the ``git`` program directly (not ftpolicy's Git layer), so tests check
ftpolicy against Git itself. Commits are deterministic: a fixed identity and a fake clock
that advances one minute per commit, so the same script yields the same commit ids.

>>> from helpers.gitrepo import init_repo
>>> repo = init_repo(tmp_path / "gov")                       # doctest: +SKIP
>>> base = repo.commit("initial", {"ftpolicy.yaml": "schema_version: 1\\n"})
>>> repo.branch("change")                                    # create and switch
>>> head = repo.commit("edit", {"a.txt": "new\\n", "ftpolicy.yaml": None})  # None deletes
>>> repo.git("log", "--oneline")

Import it from a test as ``from helpers.gitrepo import init_repo, ScratchRepo`` (``tests/``
is on ``sys.path`` through ``tests/conftest.py``), or use the ``scratch_repo`` fixture after
``from helpers.gitrepo import scratch_repo  # noqa: F401`` in a conftest or test module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

DEFAULT_AUTHOR = ("Ada Tester", "ada@example.invalid")
EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z, first commit time of every scratch repo

# Neutralise the user's Git configuration so tests behave the same everywhere.
_BASE_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
}


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment scratch repositories run git with (no user/system config)."""
    env = dict(os.environ)
    env.update(_BASE_ENV)
    if extra:
        env.update(extra)
    return env


def run_git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run ``git ARGS`` in ``cwd``; return stdout; raise with stderr shown when it fails."""
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(env), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout


class ScratchRepo:
    """A real Git repository in a folder with a tiny API for writing and committing files."""

    def __init__(self, path: Path, *, clock: int = EPOCH) -> None:
        """Wrap an existing repository at ``path``; use :func:`init_repo` to create one."""
        self.path = Path(path)
        self.clock = clock

    # -- plumbing -------------------------------------------------------------------------

    def git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run ``git ARGS`` inside the repository and return its stdout."""
        return run_git(self.path, *args, env=env)

    def rev(self, rev: str = "HEAD") -> str:
        """Full commit id of ``rev``."""
        return self.git("rev-parse", "--verify", f"{rev}^{{commit}}").strip()

    # -- files ----------------------------------------------------------------------------

    def write(self, rel: str, content: str | bytes) -> Path:
        """Write a file in the work tree (creating folders); text is written as UTF-8."""
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8") if isinstance(content, str) else content
        target.write_bytes(data)
        return target

    def read(self, rel: str) -> bytes:
        """Bytes of a file in the work tree."""
        return (self.path / rel).read_bytes()

    def remove(self, rel: str) -> None:
        """Delete a file or folder from the work tree."""
        target = self.path / rel
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()

    def move(self, old: str, new: str) -> None:
        """Rename a file in the work tree with ``git mv`` (so Git sees a rename)."""
        (self.path / new).parent.mkdir(parents=True, exist_ok=True)
        self.git("mv", old, new)

    def symlink(self, rel: str, target: str) -> None:
        """Create a symbolic link ``rel`` pointing at ``target``."""
        link = self.path / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)

    # -- history --------------------------------------------------------------------------

    def commit(
        self,
        message: str,
        files: Mapping[str, str | bytes | None] | None = None,
        *,
        author: tuple[str, str] = DEFAULT_AUTHOR,
        committer: tuple[str, str] | None = None,
        allow_empty: bool = False,
        ssh_signing_key: Path | None = None,
    ) -> str:
        """Apply ``files`` (path -> content, None deletes), stage everything, commit.

        Returns the new commit id. Author and committer default to a fixed identity; the
        commit time is the repository's fake clock, which then advances one minute.
        ``ssh_signing_key`` (a private OpenSSH key file) signs the commit with
        ``gpg.format=ssh``; otherwise the commit is unsigned.
        """
        for rel, content in (files or {}).items():
            if content is None:
                self.remove(rel)
            else:
                self.write(rel, content)
        self.git("add", "-A")
        committer = committer or author
        stamp = f"@{self.clock} +0000"
        self.clock += 60
        env = {
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_NAME": committer[0],
            "GIT_COMMITTER_EMAIL": committer[1],
            "GIT_COMMITTER_DATE": stamp,
        }
        if ssh_signing_key is None:
            args = ["-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", message]
        else:
            args = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={ssh_signing_key}"]
            args += ["commit", "-q", "--no-verify", "-S", "-m", message]
        if allow_empty:
            args.append("--allow-empty")
        self.git(*args, env=env)
        return self.rev("HEAD")

    def branch(self, name: str, start: str = "HEAD", *, switch: bool = True) -> None:
        """Create branch ``name`` at ``start`` and (by default) switch to it."""
        if switch:
            self.git("switch", "-q", "-c", name, start)
        else:
            self.git("branch", name, start)

    def switch(self, name: str) -> None:
        """Switch the work tree to an existing branch."""
        self.git("switch", "-q", name)

    def orphan(self, name: str) -> None:
        """Switch to a new branch with no history (unrelated-histories cases); tracked files go."""
        self.git("switch", "-q", "--orphan", name)

    def merge(self, branch: str, message: str | None = None) -> str:
        """Merge ``branch`` into the current branch with a merge commit; return its id."""
        stamp = f"@{self.clock} +0000"
        self.clock += 60
        env = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        name, email = DEFAULT_AUTHOR
        env.update(
            GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email
        )
        self.git(
            "-c",
            "commit.gpgsign=false",
            "merge",
            "-q",
            "--no-ff",
            "-m",
            message or f"merge {branch}",
            branch,
            env=env,
        )
        return self.rev("HEAD")

    def tag(self, name: str, rev: str = "HEAD", *, message: str | None = None) -> None:
        """Create a lightweight tag, or an annotated one when ``message`` is given."""
        if message is None:
            self.git("tag", name, rev)
        else:
            self.git("-c", "tag.gpgsign=false", "tag", "-a", name, "-m", message, rev)

    def clone(
        self, dest: Path, *, depth: int | None = None, bare: bool = False, branch: str | None = None
    ) -> Path:
        """Clone this repository to ``dest`` over ``file://`` (so ``depth`` really applies)."""
        args = ["clone", "-q"]
        if depth is not None:
            args += ["--depth", str(depth)]
        if bare:
            args.append("--bare")
        if branch is not None:
            args += ["--branch", branch]
        args += [self.path.resolve().as_uri(), str(dest)]
        run_git(self.path.parent, *args)
        return Path(dest)


EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "governed-repo"
"""The reference governed repository of the project (a plain folder, not a Git repository)."""


def repo_from_example(
    path: Path, *, example: Path = EXAMPLE_DIR, message: str = "import example"
) -> ScratchRepo:
    """Copy the example governed repository to ``path`` and commit it on ``main``.

    The copy is a real Git repository with one commit, ready for a change branch::

        repo = repo_from_example(tmp_path / "gov")
        base = repo.rev()
        repo.branch("change")
        repo.commit("raise a threshold", {"evals/security-holdout/2026.11.yaml": new_bytes})
    """
    path = Path(path)
    shutil.copytree(example, path, dirs_exist_ok=False)
    repo = init_repo(path)
    repo.commit(message)
    return repo


def init_repo(path: Path, *, branch: str = "main", bare: bool = False) -> ScratchRepo:
    """Create an empty repository at ``path`` with default branch ``branch``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    args = ["init", "-q", "-b", branch]
    if bare:
        args.append("--bare")
    run_git(path, *args)
    return ScratchRepo(path)


@pytest.fixture
def scratch_repo(tmp_path: Path) -> Iterator[ScratchRepo]:
    """An empty repository (branch ``main``) in ``tmp_path / "repo"``."""
    yield init_repo(tmp_path / "repo")
