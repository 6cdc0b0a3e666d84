"""What ``ftpolicy scan adapter`` does, as a library call (the CLI only echoes the text)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ftpolicy.errors import EvaluationError, UsageError
from ftpolicy.scan.adapter.inspect import AdapterReport, inspect_adapter

_REF = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}@[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$")


def resolve_target(target: str, repo: Path | None) -> tuple[Path, Path | None, str | None]:
    """``(folder, repository root or None, NAME@VERSION or None)`` for a DIR or a registered adapter."""
    from ftpolicy.manifest import find_repo_root, load_manifest

    path = Path(target)
    if path.is_dir() or not _REF.match(target):
        if not path.exists() and not path.is_symlink():
            raise UsageError(f"{target}: no such adapter folder", hint="give a folder or NAME@VERSION")
        try:
            root = repo if repo is not None else find_repo_root(path.resolve())
        except UsageError:  # a folder outside any governed repository is fine
            root = None
        return path, root, None
    root = repo if repo is not None else find_repo_root(Path.cwd())
    name, _, version = target.partition("@")
    manifest = load_manifest(root, f"adapters/{name}/{version}.yaml")
    files = [str(f["path"]) for f in manifest.data.get("files", [])]
    if not files:
        raise UsageError(f"adapters/{name}/{version}.yaml lists no files", code="scan.adapter")
    folder = Path(files[0]).parent
    for f in files[1:]:
        while folder != Path(".") and folder not in Path(f).parents:
            folder = folder.parent
    if folder == Path("."):
        raise UsageError(
            f"adapters/{name}/{version}.yaml: files do not share one adapter folder",
            hint="keep an adapter's files under artifacts/adapters/NAME/VERSION/",
        )
    return root / folder, root, target


def scan_adapter_target(
    target: str,
    repo: Path | None,
    fmt: str,
    output: Path | None,
    summary_path: Path | None,
    fail_on: str,
    max_file_bytes: int,
) -> tuple[str, bool]:
    """Scan, write ``--output`` / ``--summary``; return (text for stdout, failed)."""
    from ftpolicy._internal.atomic import write_text_atomic
    from ftpolicy.report import render

    folder, root, ref = resolve_target(target, repo)
    try:
        report: AdapterReport = inspect_adapter(
            folder, max_file_bytes=max_file_bytes, fail_on=fail_on, repo_root=root, ref=ref
        )
    except (NotADirectoryError, FileNotFoundError) as exc:
        raise UsageError(f"{folder}: {exc.strerror}", hint="give the adapter's folder") from None
    except OSError as exc:
        raise EvaluationError(
            f"could not read {exc.filename or folder}: {exc.strerror or exc}", code="scan.io"
        ) from exc
    text = render(report.to_report(), fmt)
    if summary_path is not None:
        write_text_atomic(summary_path, json.dumps(report.summary(), indent=2, ensure_ascii=False) + "\n")
    if output is not None:
        write_text_atomic(output, text)
        text = ""
    return text, report.failed()
