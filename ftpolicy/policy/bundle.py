"""OPA bundles (``bundle.tar.gz``) built from the same policy folders ftpolicy evaluates.

A bundle holds every ``.rego`` module (tests excluded), one ``data.json`` with the merged data
document, and a ``.manifest`` with ``revision`` (the Git commit of the policies, or a revision
given explicitly), ``roots`` (the first segment of every package and of every data key) and
``rego_version: 1``. The bytes are deterministic: entries sorted, fixed modification times,
owner and mode, and a gzip header without a timestamp, so the same commit always yields the
same file (and the same SHA-256). Serve it to OPA with ``opa run --server --bundle FILE`` or
from a bundle server.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ftpolicy._internal.atomic import write_bytes_atomic
from ftpolicy.errors import ConfigError, UsageError
from ftpolicy.policy.engines import _rego_source as rs
from ftpolicy.policy.engines.policyset import PolicySet, load_policy_set

__all__ = ["BundleInfo", "build_bundle", "git_revision", "write_bundle"]

_MTIME = 0  # 1970-01-01: fixed so identical content gives identical bytes


@dataclass(frozen=True)
class BundleInfo:
    """What was written: where, which revision, roots, module count and the file's digest."""

    path: Path | None
    revision: str
    roots: tuple[str, ...]
    modules: int
    policy_digest: str
    sha256: str


def git_revision(folders: Iterable[Path]) -> str:
    """The commit checked out where ``folders`` live; refuse uncommitted changes to them.

    Folders outside any Git repository (the bundled default library of an installed ftpolicy)
    are skipped; at least one folder must be in a repository.
    """
    revision: str | None = None
    for folder in folders:
        folder = Path(folder).resolve()
        top = _git(folder, "rev-parse", "--show-toplevel")
        if top is None:
            continue
        commit = _git(folder, "rev-parse", "--verify", "HEAD^{commit}")
        if commit is None:
            raise UsageError(
                f"{folder} is in a Git repository without commits",
                hint="commit the policies first, or pass --revision",
                code="bundle.revision",
            )
        dirty = _git(folder, "status", "--porcelain", "--untracked-files=all", "--", ".")
        if dirty:
            raise UsageError(
                f"{folder} has uncommitted changes, so no commit describes the bundle",
                hint="commit (or stash) the policy changes, or pass --revision explicitly",
                code="bundle.dirty",
            )
        if revision is not None and revision != commit:
            raise UsageError(
                "the policy folders are in different Git repositories",
                hint="pass --revision",
                code="bundle.revision",
            )
        revision = commit
    if revision is None:
        raise UsageError(
            "the policy folders are not in a Git repository, so the bundle has no revision",
            hint="pass --revision REV",
            code="bundle.revision",
        )
    return revision


def _git(folder: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip()


def _archive_names(folders: list[Path], policy_set: PolicySet) -> dict[str, str]:
    """Module name -> path inside the bundle (relative to its folder; prefixed on clashes)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for index, folder in enumerate(folders):
        prefix = "" if folder.as_posix() == "." else folder.as_posix().rstrip("/") + "/"
        for name in policy_set.modules:
            if name in names or not name.startswith(prefix):
                continue
            rel = name[len(prefix) :]
            arcname = rel if rel not in taken and rel != "data.json" else f"_{index}/{rel}"
            taken.add(arcname)
            names[name] = arcname
    missing = sorted(set(policy_set.modules) - set(names))
    if missing:  # pragma: no cover - load_policy_set names modules <folder>/<relative path>
        raise ConfigError(f"cannot place {missing[0]} in the bundle", code="bundle.layout")
    return names


def _roots(policy_set: PolicySet) -> tuple[str, ...]:
    roots: set[str] = set(policy_set.data)
    for name, source in policy_set.modules.items():
        try:
            package = rs.module_package(rs.tokenize(source))
        except rs.LexError as exc:
            raise ConfigError(f"{name}:{exc.line}: {exc.message}", code="policy.compile") from None
        if package is None:
            raise ConfigError(
                f"{name}: a Rego module must start with a package declaration", code="policy.compile"
            )
        roots.add(package[0].split(".")[0])
    return tuple(sorted(roots))


def build_bundle(folders: Iterable[Path], *, revision: str) -> tuple[bytes, BundleInfo]:
    """The bundle bytes for the policies in ``folders`` (tests excluded) and what they hold."""
    folders = [Path(f) for f in folders]
    policy_set = load_policy_set(folders)
    if not policy_set.modules:
        raise UsageError(
            f"no .rego files in {', '.join(str(f) for f in folders)}",
            hint="pass the folders that hold the policies",
            code="bundle.empty",
        )
    roots = _roots(policy_set)
    manifest = {
        "revision": revision,
        "roots": list(roots),
        "rego_version": 1,
        "metadata": {"ftpolicy_policy_digest": policy_set.digest},
    }
    entries: dict[str, bytes] = {
        ".manifest": json.dumps(manifest, sort_keys=True, indent=2).encode("utf-8") + b"\n",
        "data.json": json.dumps(policy_set.data, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n",
    }
    for name, arcname in _archive_names(folders, policy_set).items():
        entries[arcname] = policy_set.modules[name].encode("utf-8")
    data = _tar_gz(entries)
    info = BundleInfo(
        path=None,
        revision=revision,
        roots=roots,
        modules=len(policy_set.modules),
        policy_digest=policy_set.digest,
        sha256="sha256:" + hashlib.sha256(data).hexdigest(),
    )
    return data, info


def write_bundle(folders: Iterable[Path], output: Path, *, revision: str | None = None) -> BundleInfo:
    """Build the bundle and write it atomically to ``output``; the revision defaults to Git's HEAD."""
    folders = [Path(f) for f in folders]
    rev = revision if revision else git_revision(folders)
    data, info = build_bundle(folders, revision=rev)
    write_bytes_atomic(Path(output), data)
    return BundleInfo(
        path=Path(output),
        revision=info.revision,
        roots=info.roots,
        modules=info.modules,
        policy_digest=info.policy_digest,
        sha256=info.sha256,
    )


def _tar_gz(entries: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            payload = entries[name]
            member = tarfile.TarInfo(name)
            member.size = len(payload)
            member.mtime = _MTIME
            member.mode = 0o644
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            tar.addfile(member, io.BytesIO(payload))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=_MTIME, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()
