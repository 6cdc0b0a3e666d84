"""Record artifacts (materials/products) as in-toto does: ``{name: {"sha256": hex}}``.

Names are POSIX paths relative to a base folder (the governed repository, or an
artifacts folder laid out like it). Files are hashed by :mod:`ftpolicy.hashing` (streaming
1 MiB reads, several files in parallel).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ftpolicy.errors import UsageError

_SKIP_DIRS = frozenset({".git"})


def artifact_name(path: Path, base: Path) -> str:
    """``path`` as a base-relative POSIX name; refuses paths outside ``base``."""
    base_real = Path(os.path.realpath(base))
    absolute = path if path.is_absolute() else Path.cwd() / path
    # resolve the parent only, so a symlinked file is named where it is, not where it points
    real = Path(os.path.realpath(absolute.parent)) / absolute.name
    if real != base_real and base_real not in real.parents:
        raise UsageError(
            f"{path} is outside the artifact base {base}",
            hint="artifacts are named relative to the repository (or to --base DIR); "
            "pass --base with a folder that contains them",
            code="artifact.outside-base",
        )
    return real.relative_to(base_real).as_posix()


def _walk(path: Path) -> Iterable[Path]:
    if path.is_dir() and not path.is_symlink():
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            for name in sorted(filenames):
                yield Path(dirpath) / name
    else:
        yield path


def record_artifacts(paths: Iterable[Path], base: Path) -> dict[str, dict[str, str]]:
    """Hash files (folders recursively, ``.git`` skipped) into in-toto's artifact dict.

    A symlink is hashed only when its target is inside ``base``.
    """
    from ftpolicy.hashing.stream import hash_files

    names: list[str] = []
    targets: list[Path] = []
    base_real = Path(os.path.realpath(base))
    for given in paths:
        if not given.exists():
            raise UsageError(f"{given}: no such file or folder", code="artifact.not-found")
        for file in _walk(given):
            name = artifact_name(file, base)
            target = Path(os.path.realpath(file))
            if target != base_real and base_real not in target.parents:
                raise UsageError(
                    f"{file} is a symlink to outside the artifact base",
                    hint="record the real file, inside the repository or --base",
                    code="artifact.outside-base",
                )
            if not target.is_file() or name in names:
                continue
            names.append(name)
            targets.append(target)
    digests = hash_files(targets, count_records=False, displays=names) if targets else []
    return {name: {"sha256": d.sha256} for name, d in sorted(zip(names, digests, strict=True))}
