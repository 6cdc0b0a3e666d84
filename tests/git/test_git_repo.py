"""The Git access layer against real repositories built in tmp_path."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers.gitrepo import EXAMPLE_DIR, ScratchRepo, repo_from_example, run_git

from ftpolicy.errors import ExitCode, PathEscapeError
from ftpolicy.git import (
    SIGNATURE_LETTERS,
    ChangedPath,
    GitError,
    GitRepo,
    NotARepositoryError,
    RevisionNotFound,
    ShallowCloneError,
    UnrelatedHistoriesError,
)

SHALLOW = "fetch full history with fetch-depth: 0"
BIG = "".join(
    f"line {i}: some text that makes the file large enough for rename detection\n" for i in range(40)
)


def _open(repo: ScratchRepo | Path) -> GitRepo:
    path = repo.path if isinstance(repo, ScratchRepo) else repo
    return GitRepo.open(path)


# -- opening ------------------------------------------------------------------------------


def test_open_discovers_root_from_a_subfolder(scratch_repo: ScratchRepo) -> None:
    scratch_repo.commit("init", {"datasets/x/1.0.0.yaml": "a: 1\n"})
    with GitRepo.open(scratch_repo.path / "datasets" / "x") as repo:
        assert repo.root == scratch_repo.path.resolve()
        assert repo.is_bare is False
        assert repo.is_shallow is False
    with GitRepo.open(scratch_repo.path / "datasets" / "x" / "1.0.0.yaml") as repo:
        assert repo.root == scratch_repo.path.resolve()


def test_open_outside_a_repository_is_a_git_error_with_hint(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(NotARepositoryError) as info:
        GitRepo.open(plain)
    assert isinstance(info.value, GitError)
    assert info.value.exit_code == ExitCode.USAGE
    assert "not inside a Git repository" in info.value.message
    assert info.value.hint and "git init" in info.value.hint
    with pytest.raises(NotARepositoryError, match="no such folder"):
        GitRepo.open(tmp_path / "missing")


# -- revisions ----------------------------------------------------------------------------


def test_rev_parse_names_branches_tags_and_short_ids(scratch_repo: ScratchRepo) -> None:
    first = scratch_repo.commit("one", {"a.txt": "1\n"})
    scratch_repo.tag("v1", message="annotated release tag")
    scratch_repo.tag("light")
    second = scratch_repo.commit("two", {"a.txt": "2\n"})
    with _open(scratch_repo) as repo:
        assert repo.rev_parse("HEAD") == second
        assert repo.rev_parse("main") == second
        assert repo.rev_parse("HEAD~1") == first
        assert repo.rev_parse("v1") == first  # annotated tag peeled to its commit
        assert repo.rev_parse("light") == first
        assert repo.rev_parse(first[:10]) == first
        assert re.fullmatch(r"[0-9a-f]{40}", repo.rev_parse("HEAD"))


@pytest.mark.parametrize("rev", ["no-such-branch", "0" * 40, "--all", "", "HEAD\nmain"])
def test_rev_parse_unknown_revision(scratch_repo: ScratchRepo, rev: str) -> None:
    scratch_repo.commit("one", {"a.txt": "1\n"})
    with _open(scratch_repo) as repo, pytest.raises(RevisionNotFound) as info:
        repo.rev_parse(rev)
    assert info.value.hint == "check the name with git log"
    assert info.value.exit_code == ExitCode.USAGE


def test_rev_parse_refuses_a_tree_or_blob_id(scratch_repo: ScratchRepo) -> None:
    scratch_repo.commit("one", {"a.txt": "1\n"})
    tree = scratch_repo.git("rev-parse", "HEAD^{tree}").strip()
    with _open(scratch_repo) as repo, pytest.raises(RevisionNotFound):
        repo.rev_parse(tree)


# -- reading content at a revision --------------------------------------------------------


def test_read_blob_at_old_revision_never_touches_the_work_tree(scratch_repo: ScratchRepo) -> None:
    old = scratch_repo.commit("v1", {"datasets/d/1.0.0.yaml": "version: one\n", "bin.dat": b"\x00\xff\x01"})
    scratch_repo.commit("v2", {"datasets/d/1.0.0.yaml": "version: two\n"})
    # Uncommitted edits and an untracked file must survive untouched.
    scratch_repo.write("datasets/d/1.0.0.yaml", "work tree edit\n")
    scratch_repo.write("untracked.txt", "mine\n")
    before_status = scratch_repo.git("status", "--porcelain=v1")
    before_index = (scratch_repo.path / ".git" / "index").read_bytes()

    with _open(scratch_repo) as repo:
        assert repo.read_blob(old, "datasets/d/1.0.0.yaml") == b"version: one\n"
        assert repo.read_blob("HEAD", "datasets/d/1.0.0.yaml") == b"version: two\n"
        assert repo.read_blob(old, "bin.dat") == b"\x00\xff\x01"
        assert repo.read_blob(old, "./datasets//d/1.0.0.yaml") == b"version: one\n"
        # Files that exist only in the work tree are not in any revision.
        assert repo.read_blob("HEAD", "untracked.txt") is None

    assert scratch_repo.read("datasets/d/1.0.0.yaml") == b"work tree edit\n"
    assert scratch_repo.read("untracked.txt") == b"mine\n"
    assert scratch_repo.git("status", "--porcelain=v1") == before_status
    assert (scratch_repo.path / ".git" / "index").read_bytes() == before_index


def test_read_blob_missing_folder_symlink_and_escapes(scratch_repo: ScratchRepo) -> None:
    scratch_repo.write("real.yaml", "x: 1\n")
    scratch_repo.symlink("link.yaml", "real.yaml")
    scratch_repo.commit("files", {"d/inner.txt": "in\n"})
    with _open(scratch_repo) as repo:
        assert repo.read_blob("HEAD", "nope.yaml") is None
        assert repo.read_blob("HEAD", "d/nope/deeper.txt") is None
        assert repo.read_blob("HEAD", "real.yaml/under") is None  # a file is not a folder
        with pytest.raises(GitError, match="is a folder"):
            repo.read_blob("HEAD", "d")
        with pytest.raises(GitError, match="symbolic link") as info:
            repo.read_blob("HEAD", "link.yaml")
        assert info.value.code == "git.symlink"
        for bad in ("/etc/passwd", "../outside.txt", "d/../../x"):
            with pytest.raises(PathEscapeError):
                repo.read_blob("HEAD", bad)


def test_read_blobs_batch_matches_single_reads(scratch_repo: ScratchRepo) -> None:
    files = {
        f"datasets/d{i}/{j}.0.0.yaml": f"name: d{i}\nversion: '{j}.0.0'\n" for i in range(5) for j in range(4)
    }
    files["bin/blob.dat"] = "\x00\x01 binary-ish\n" * 50
    old = scratch_repo.commit("many", files)
    scratch_repo.commit("edit one", {"datasets/d0/0.0.0.yaml": "changed\n"})
    scratch_repo.symlink("link.yaml", "bin/blob.dat")
    scratch_repo.commit("link")
    wanted = [*files, "missing.yaml", "./datasets/d1/1.0.0.yaml"]
    with _open(scratch_repo) as repo:
        batch = repo.read_blobs(old, wanted)
        assert batch == {p: repo.read_blob(old, p) for p in wanted}
        assert batch["datasets/d0/0.0.0.yaml"] == files["datasets/d0/0.0.0.yaml"].encode()
        assert batch["missing.yaml"] is None
        assert repo.read_blobs("HEAD", ["datasets/d0/0.0.0.yaml"]) == {"datasets/d0/0.0.0.yaml": b"changed\n"}
        assert repo.read_blobs("HEAD", []) == {}
        with pytest.raises(GitError, match="symbolic link"):
            repo.read_blobs("HEAD", ["datasets/d0/1.0.0.yaml", "link.yaml"])
        with pytest.raises(GitError, match="is a folder"):
            repo.read_blobs("HEAD", ["datasets/d0"])
        with pytest.raises(PathEscapeError):
            repo.read_blobs("HEAD", ["../x"])


def test_exists_and_list_files(scratch_repo: ScratchRepo) -> None:
    old = scratch_repo.commit(
        "init",
        {
            "ftpolicy.yaml": "k: v\n",
            "datasets/a/1.0.0.yaml": "a\n",
            "datasets/b/2.0.0.yaml": "b\n",
            "datasetsX/c.yaml": "not under datasets/\n",
        },
    )
    scratch_repo.commit("more", {"datasets/a/1.1.0.yaml": "a2\n", "datasets/b/2.0.0.yaml": None})
    with _open(scratch_repo) as repo:
        assert repo.exists(old, "datasets/b/2.0.0.yaml")
        assert not repo.exists("HEAD", "datasets/b/2.0.0.yaml")
        assert repo.exists("HEAD", "datasets")  # folders exist too
        assert not repo.exists("HEAD", "datasets/zzz")
        assert repo.list_files(old, "datasets") == ["datasets/a/1.0.0.yaml", "datasets/b/2.0.0.yaml"]
        assert repo.list_files("HEAD", "datasets/") == ["datasets/a/1.0.0.yaml", "datasets/a/1.1.0.yaml"]
        assert repo.list_files("HEAD", "ftpolicy.yaml") == ["ftpolicy.yaml"]
        assert repo.list_files("HEAD", "missing") == []
        assert repo.list_files("HEAD") == [
            "datasets/a/1.0.0.yaml",
            "datasets/a/1.1.0.yaml",
            "datasetsX/c.yaml",
            "ftpolicy.yaml",
        ]


def test_list_files_treats_glob_characters_literally(scratch_repo: ScratchRepo) -> None:
    scratch_repo.commit("init", {"a/x.yaml": "1\n", "b/y.yaml": "2\n"})
    with _open(scratch_repo) as repo:
        assert repo.list_files("HEAD", "*") == []
        assert repo.list_files("HEAD", ":(glob)**") == []


# -- changed paths --------------------------------------------------------------------------


def test_changed_paths_statuses(scratch_repo: ScratchRepo) -> None:
    base = scratch_repo.commit(
        "base",
        {
            "keep.txt": "same\n",
            "edit.txt": "before\n",
            "gone.txt": "bye\n",
            "datasets/d/1.0.0.yaml": BIG,
            "type.txt": "regular file\n",
            "source.txt": BIG + "source\n",
        },
    )
    scratch_repo.branch("change")
    scratch_repo.move("datasets/d/1.0.0.yaml", "datasets/d/1.1.0.yaml")
    scratch_repo.remove("type.txt")
    scratch_repo.symlink("type.txt", "keep.txt")
    head = scratch_repo.commit(
        "change",
        {
            "edit.txt": "after\n",
            "gone.txt": None,
            "new.txt": "hello\n",
            # a copy of a file that is itself modified in the same change (git diff -C)
            "copy.txt": BIG + "source\n",
            "source.txt": BIG + "source changed\n",
        },
    )
    with _open(scratch_repo) as repo:
        changes = repo.changed_paths(base, head)
    assert changes == [
        ChangedPath("copied", "copy.txt", "source.txt"),
        ChangedPath("renamed", "datasets/d/1.1.0.yaml", "datasets/d/1.0.0.yaml"),
        ChangedPath("modified", "edit.txt", None),
        ChangedPath("deleted", "gone.txt", None),
        ChangedPath("added", "new.txt", None),
        ChangedPath("modified", "source.txt", None),
        ChangedPath("type-changed", "type.txt", None),
    ]
    assert all(c.path != "keep.txt" for c in changes)


def test_changed_paths_uses_the_merge_base_like_a_pull_request(scratch_repo: ScratchRepo) -> None:
    fork = scratch_repo.commit("base", {"shared.txt": "1\n"})
    scratch_repo.branch("feature")
    feature = scratch_repo.commit("feature work", {"feature.txt": "f\n"})
    scratch_repo.switch("main")
    main = scratch_repo.commit("main moves on", {"main-only.txt": "m\n", "shared.txt": "2\n"})
    with _open(scratch_repo) as repo:
        assert repo.merge_base("main", "feature") == fork
        assert repo.merge_base(main, feature) == fork
        # Only what the branch changed, not the inverse of what main did meanwhile.
        assert repo.changed_paths("main", "feature") == [ChangedPath("added", "feature.txt", None)]
        assert repo.changed_paths("feature", "main") == [
            ChangedPath("added", "main-only.txt", None),
            ChangedPath("modified", "shared.txt", None),
        ]
        assert repo.changed_paths("main", "main") == []
        # After merging main into the branch, the branch still shows only its own work.
        scratch_repo.switch("feature")
        scratch_repo.merge("main")
        assert repo.changed_paths("main", "feature") == [ChangedPath("added", "feature.txt", None)]


def test_changed_paths_unrelated_histories(scratch_repo: ScratchRepo) -> None:
    scratch_repo.commit("main root", {"a.txt": "a\n"})
    scratch_repo.orphan("other")
    assert not (scratch_repo.path / "a.txt").exists()
    scratch_repo.commit("other root", {"b.txt": "b\n"})
    with _open(scratch_repo) as repo:
        assert repo.merge_base("main", "other") is None
        with pytest.raises(UnrelatedHistoriesError) as info:
            repo.changed_paths("main", "other")
    assert "share no history" in info.value.message
    assert info.value.hint and "origin/main" in info.value.hint
    assert info.value.exit_code == ExitCode.USAGE


# -- clones -----------------------------------------------------------------------------------


def test_shallow_clone_detection_and_hint(scratch_repo: ScratchRepo, tmp_path: Path) -> None:
    old = scratch_repo.commit("one", {"a.txt": "1\n"})
    scratch_repo.branch("feature")
    scratch_repo.commit("feature", {"f.txt": "f\n"})
    scratch_repo.switch("main")
    scratch_repo.commit("two", {"a.txt": "2\n"})

    shallow = scratch_repo.path.parent / "shallow"
    run_git(
        tmp_path,
        "clone",
        "-q",
        "--depth",
        "1",
        "--no-single-branch",
        scratch_repo.path.as_uri(),
        str(shallow),
    )
    with GitRepo.open(shallow) as repo:
        assert repo.is_shallow is True
        with pytest.raises(RevisionNotFound) as info:
            repo.rev_parse(old)
        assert info.value.hint is not None and SHALLOW in info.value.hint
        assert "actions/checkout" in info.value.hint
        with pytest.raises(ShallowCloneError) as shallow_info:
            repo.changed_paths("origin/main", "origin/feature")
        assert shallow_info.value.hint is not None and SHALLOW in shallow_info.value.hint
        # What the clone has can still be read.
        assert repo.read_blob("HEAD", "a.txt") == b"2\n"

    full = scratch_repo.clone(tmp_path / "full")
    with GitRepo.open(full) as repo:
        assert repo.is_shallow is False
        assert repo.rev_parse(old) == old


def test_bare_clone_reading(scratch_repo: ScratchRepo, tmp_path: Path) -> None:
    old = scratch_repo.commit("one", {"datasets/d/1.0.0.yaml": "one\n"})
    new = scratch_repo.commit("two", {"datasets/d/1.1.0.yaml": "two\n"})
    bare = scratch_repo.clone(tmp_path / "bare.git", bare=True)
    with GitRepo.open(bare) as repo:
        assert repo.is_bare is True
        assert repo.root == bare.resolve()
        assert repo.rev_parse("main") == new
        assert repo.read_blob(old, "datasets/d/1.0.0.yaml") == b"one\n"
        assert repo.read_blob(old, "datasets/d/1.1.0.yaml") is None
        assert repo.list_files("main", "datasets") == ["datasets/d/1.0.0.yaml", "datasets/d/1.1.0.yaml"]
        assert repo.changed_paths(old, new) == [ChangedPath("added", "datasets/d/1.1.0.yaml", None)]
        assert [c.sha for c in repo.commits_between(old, new)] == [new]


# -- commits ----------------------------------------------------------------------------------


def test_commit_info_of_an_unsigned_commit(scratch_repo: ScratchRepo) -> None:
    sha = scratch_repo.commit(
        "Add dataset support-tickets 1.0.0\n\nlonger body is not the subject",
        {"a.txt": "1\n"},
        author=("Alice Trainer", "alice@acme.example"),
        committer=("Merge Bot", "bot@acme.example"),
    )
    with _open(scratch_repo) as repo:
        info = repo.commit_info("HEAD")
    assert info.sha == sha
    assert (info.author_name, info.author_email) == ("Alice Trainer", "alice@acme.example")
    assert (info.committer_name, info.committer_email) == ("Merge Bot", "bot@acme.example")
    assert info.author_time == "2026-01-01T00:00:00Z"
    assert info.committer_time == "2026-01-01T00:00:00Z"
    assert info.message_subject == "Add dataset support-tickets 1.0.0"
    assert info.signature == "none"
    assert info.signer_key is None


def test_commits_between_oldest_first_and_file_history_newest_first(scratch_repo: ScratchRepo) -> None:
    base = scratch_repo.commit("c0", {"a.txt": "0\n", "other.txt": "x\n"})
    c1 = scratch_repo.commit("c1", {"a.txt": "1\n"})
    c2 = scratch_repo.commit("c2", {"other.txt": "y\n"})
    c3 = scratch_repo.commit("c3", {"a.txt": "3\n"})
    scratch_repo.move("a.txt", "renamed.txt")
    c4 = scratch_repo.commit("c4 move")
    with _open(scratch_repo) as repo:
        between = repo.commits_between(base, "HEAD")
        assert [c.sha for c in between] == [c1, c2, c3, c4]
        assert [c.message_subject for c in between] == ["c1", "c2", "c3", "c4 move"]
        assert repo.commits_between("HEAD", base) == []
        assert [c.sha for c in repo.file_history("a.txt")] == [c4, c3, c1, base]
        assert [c.sha for c in repo.file_history("a.txt", rev=c2)] == [c1, base]
        # Renames are not followed: the new name's history starts at the move.
        assert [c.sha for c in repo.file_history("renamed.txt")] == [c4]
        assert repo.file_history("never-existed.txt") == []


def test_signature_letters_cover_every_git_status() -> None:
    assert set(SIGNATURE_LETTERS) == set("GBUXYREN")
    assert SIGNATURE_LETTERS["N"] == "none"
    assert SIGNATURE_LETTERS["G"] == "good"
    assert [k for k, v in SIGNATURE_LETTERS.items() if v == "good"] == ["G"]


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_ssh_signed_commit_good_only_with_an_allowed_signer(
    scratch_repo: ScratchRepo, tmp_path: Path
) -> None:
    key = tmp_path / "signing_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f", str(key)], check=True)
    scratch_repo.commit("unsigned", {"a.txt": "1\n"})
    signed = scratch_repo.commit("signed", {"a.txt": "2\n"}, ssh_signing_key=key)
    with _open(scratch_repo) as repo:
        # Signed, but Git cannot check it (no allowed-signers file): never "none", never "good".
        assert repo.commit_info(signed).signature == "error"
    scratch_repo.git("config", "gpg.format", "ssh")
    with _open(scratch_repo) as repo:
        assert repo.commit_info(signed).signature == "error"

    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"ada@example.invalid {key.with_suffix('.pub').read_text()}")
    scratch_repo.git("config", "gpg.ssh.allowedSignersFile", str(allowed))
    with _open(scratch_repo) as repo:
        good = repo.commit_info(signed)
        assert repo.commit_info("HEAD~1").signature == "none"
    assert good.signature == "good"
    assert good.signer_key is not None and good.signer_key.startswith("SHA256:")


def test_repo_from_example_is_a_committed_copy(tmp_path: Path) -> None:
    repo = repo_from_example(tmp_path / "gov")
    with _open(repo) as git_repo:
        files = git_repo.list_files("HEAD")
        assert "ftpolicy.yaml" in files and "datasets/support-tickets/1.1.0.yaml" in files
        assert git_repo.read_blob("HEAD", "ftpolicy.yaml") == (EXAMPLE_DIR / "ftpolicy.yaml").read_bytes()
    assert repo.git("status", "--porcelain") == ""
