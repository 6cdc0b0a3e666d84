"""``ftpolicy dataset hash|add|diff``: pin dataset shards by digest and track versions."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ftpolicy.datasets.diff import DatasetDiff
    from ftpolicy.hashing import FileDigest

_CTX = {"help_option_names": ["-h", "--help"]}
_RECORD_FORMATS = ("chat", "instruction", "preference", "text")
_PROGRESS_MIN_BYTES = 16 << 20  # smaller inputs hash in well under a second: no bar

_repo_option = click.option(
    "--repo",
    "repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Governed repository (default: the nearest folder at or above the current one that holds "
    "ftpolicy.yaml).",
)
_jobs_option = click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Files hashed in parallel (default: the number of CPU cores).",
)


def _format_option(default: str = "text") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default=default,
        show_default=True,
        help="Output format; json is stable and versioned (schema_version 1).",
    )


def _root(repo: Path | None) -> Path:
    from ftpolicy.errors import UsageError
    from ftpolicy.manifest import CONFIG_FILE, find_repo_root

    if repo is None:
        return find_repo_root(Path.cwd())
    if not (repo / CONFIG_FILE).is_file():
        raise UsageError(
            f"{repo} is not a governed repository (no {CONFIG_FILE})",
            hint="pass the folder that holds ftpolicy.yaml, or run `ftpolicy init` there",
            code="repo.not-found",
        )
    return repo


@contextmanager
def _progress(total: int, fmt: str, label: str) -> Iterator[Callable[[int], None] | None]:
    """A bytes progress bar on stderr when it is a terminal (never for JSON or in CI)."""
    if fmt == "json" or not sys.stderr.isatty() or os.environ.get("CI") or total < _PROGRESS_MIN_BYTES:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def _total_size(paths: list[Path]) -> int:
    total = 0
    for p in paths:
        with suppress(OSError):
            total += p.stat().st_size
    return total


@click.group(context_settings=_CTX)
def dataset() -> None:
    """Hash, add and diff dataset versions.

    A dataset version is a manifest, datasets/NAME/VERSION.yaml, that records where
    the data came from (sources, licence, who collected it, when, how it was
    preprocessed) and pins every shard by SHA-256, size and record count. Versions
    are immutable: a change is a new version whose --parent is the previous one.
    """


HASH_EPILOG = """\b
Examples:
  ftpolicy dataset hash data/tickets-*.jsonl.zst
  ftpolicy dataset hash --format json --jobs 4 data/train.jsonl data/eval.jsonl.gz

\b
Records: non-empty lines of .jsonl, .jsonl.gz and .jsonl.zst (decompressed; the
sha256 and bytes are those of the file as stored), rows of .parquet (needs
pyarrow: pip install 'ftpolicy[parquet]'); '-' for other files."""


@dataset.command(
    "hash", epilog=HASH_EPILOG, context_settings=_CTX, short_help="SHA-256, bytes and records of files."
)
@_format_option()
@_jobs_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def hash_cmd(fmt: str, jobs: int | None, paths: tuple[Path, ...]) -> None:
    """Print the SHA-256, size in bytes and record count of each file.

    Files are streamed in 1 MiB chunks (constant memory) and hashed in parallel; a
    progress bar is shown on a terminal for large inputs.
    """
    from ftpolicy.hashing import hash_files

    files = list(paths)
    with _progress(_total_size(files), fmt, "hashing") as on_bytes:
        digests = hash_files(files, jobs=jobs, on_bytes=on_bytes, displays=[str(p) for p in files])
    if fmt == "json":
        doc = {
            "schema_version": 1,
            "kind": "dataset-hash",
            "files": [_digest_dict(d) for d in digests],
        }
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    for d in digests:
        records = "-" if d.records is None else str(d.records)
        click.echo(f"{d.sha256}  {d.bytes:>12}  {records:>9}  {d.path}")


def _digest_dict(d: FileDigest) -> dict[str, Any]:
    return {
        "path": str(d.path),
        "sha256": d.sha256,
        "bytes": d.bytes,
        "records": d.records,
        "format": d.format,
    }


ADD_EPILOG = """\b
Example:
  ftpolicy dataset add support-tickets --version 1.1.0 --parent 1.0.0 \\
    --shard data/tickets-2026q1.jsonl.zst \\
    --source kind=internal,uri=s3://corp-support/exports/2026q1,licence=proprietary \\
    --collected-by data-eng --author alice --author bob \\
    --collection 2026-01-01..2026-03-31 --record-format chat \\
    --preprocess tool=pii-scrub,version=2.3.0,params=configs/scrub.yaml \\
    --change-summary "Q1 2026 tickets; PII scrubbed; 3 bad records removed"

\b
Shard paths must lie inside the repository (no symlinks out of it). The manifest
is validated against schemas/dataset.v1.schema.json before it is written;
nothing is written if it would be invalid. An existing version is never
overwritten (exit 1): add a new version instead.
Exit codes: 0 written, 1 version exists / shard outside the repository,
2 usage error (bad option, missing file, unknown --parent)."""


@dataset.command("add", epilog=ADD_EPILOG, context_settings=_CTX, short_help="Record a new dataset version.")
@click.argument("name")
@click.option("--version", "version", required=True, metavar="V", help="New version label, e.g. 1.1.0.")
@click.option(
    "--shard",
    "shards",
    multiple=True,
    required=True,
    metavar="PATH",
    help="A data file (.jsonl, .jsonl.gz, .jsonl.zst, .parquet) inside the repository; repeat for each.",
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    required=True,
    metavar="SPEC",
    help="kind=KIND,uri=URI,licence=LICENCE[,name=NAME][,description=TEXT] where KIND is internal, "
    "vendor, public or user-generated; repeat for each source (name defaults to the dataset name).",
)
@click.option("--collected-by", required=True, metavar="ID", help="Identity that collected the data.")
@click.option(
    "--author",
    "authors",
    multiple=True,
    required=True,
    metavar="ID",
    help="Author identity; repeat for each.",
)
@click.option(
    "--collection",
    required=True,
    metavar="START..END",
    help="Collection window, e.g. 2026-01-01..2026-03-31.",
)
@click.option("--record-format", required=True, type=click.Choice(_RECORD_FORMATS), help="Record layout.")
@click.option(
    "--preprocess",
    "preprocess",
    multiple=True,
    metavar="SPEC",
    help="tool=T,version=V,params=FILE (the file's sha256 is recorded) or params_digest=sha256:HEX; "
    "repeat per step, in order.",
)
@click.option("--parent", default=None, metavar="V", help="The existing version this one derives from.")
@click.option("--change-summary", required=True, metavar="TEXT", help="What changed and why.")
@click.option("--description", default=None, metavar="TEXT", help="What the dataset is (optional).")
@_repo_option
@_jobs_option
@_format_option()
def add_cmd(
    name: str,
    version: str,
    shards: tuple[str, ...],
    sources: tuple[str, ...],
    collected_by: str,
    authors: tuple[str, ...],
    collection: str,
    record_format: str,
    preprocess: tuple[str, ...],
    parent: str | None,
    change_summary: str,
    description: str | None,
    repo: Path | None,
    jobs: int | None,
    fmt: str,
) -> None:
    """Hash shards and record a new dataset version as datasets/NAME/VERSION.yaml."""
    from ftpolicy.datasets.add import PreprocessStep, Source, add_dataset_version, parse_collection

    root = _root(repo)
    parsed_sources = [Source.parse(s) for s in sources]
    steps = [PreprocessStep.parse(p, Path.cwd()) for p in preprocess]
    window = parse_collection(collection)
    with _progress(_total_size([Path(s) for s in shards]), fmt, "hashing shards") as on_bytes:
        result = add_dataset_version(
            root,
            name,
            version=version,
            shards=shards,
            sources=parsed_sources,
            collected_by=collected_by,
            authors=authors,
            collection=window,
            record_format=record_format,
            change_summary=change_summary,
            preprocessing=steps,
            parent=parent,
            description=description,
            jobs=jobs,
            on_bytes=on_bytes,
        )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if fmt == "json":
        doc = {
            "schema_version": 1,
            "kind": "dataset-add",
            "path": result.path,
            "ref": f"{name}@{version}",
            "records": result.records,
            "bytes": result.bytes,
            "shards": [
                {**_digest_dict(d), "path": s["path"]}
                for d, s in zip(result.shards, result.manifest["shards"], strict=True)
            ],
        }
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    click.echo(
        f"wrote {result.path}: {len(result.shards)} shard(s), {result.records} records, "
        f"{_human_bytes(result.bytes)}"
    )
    click.echo(f"  next: git add {result.path} && git commit", err=True)


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


DIFF_EPILOG = """\b
Examples:
  ftpolicy dataset diff support-tickets@1.0.0 support-tickets@1.1.0
  ftpolicy dataset diff support-tickets@1.0.0 support-tickets@1.1.0 --format json --examples 10

\b
Records are keyed by their 'id' field when present, else by a digest of the
prompt side (chat: non-assistant messages; instruction: instruction + input;
preference: prompt). Same key, different content = modified. With duplicate
keys, the n-th occurrence in one version pairs with the n-th in the other.
Each shard is first checked against its manifest's sha256 (mismatch: exit 1).
Exit codes: 0 diff printed, 1 a shard does not match its manifest,
2 usage error (unknown version, remote shard)."""


@dataset.command(
    "diff", epilog=DIFF_EPILOG, context_settings=_CTX, short_help="Record-level change between two versions."
)
@click.argument("old", metavar="NAME@V1")
@click.argument("new", metavar="NAME@V2")
@_repo_option
@_format_option()
@click.option(
    "--examples",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    metavar="N",
    help="Examples shown per kind of change.",
)
@_jobs_option
def diff_cmd(old: str, new: str, repo: Path | None, fmt: str, examples: int, jobs: int | None) -> None:
    """Show records added, removed and modified between two dataset versions."""
    from ftpolicy.datasets.diff import diff_versions

    root = _root(repo)
    result = diff_versions(root, old, new, examples=examples, jobs=jobs)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, sort_keys=True))
    else:
        click.echo(_render_diff(result), nl=False)


def _render_diff(d: DatasetDiff) -> str:
    out = [f"dataset diff {d.old.ref} -> {d.new.ref}"]
    out.append(
        f"  records: {d.old.records} -> {d.new.records}"
        f"  (keyed by id: {d.new.keyed_by_id}, by prompt digest: {d.new.keyed_by_prompt})"
    )
    for label, n in (("added", d.added), ("removed", d.removed), ("modified", d.modified)):
        out.append(f"  {label:<9} {n:>8}")
    out.append(f"  {'unchanged':<9} {d.unchanged:>8}")
    notes = []
    for side in (d.old, d.new):
        if side.malformed:
            notes.append(f"{side.ref}: {side.malformed} malformed line(s) not compared")
        if side.duplicate_keys:
            notes.append(f"{side.ref}: {side.duplicate_keys} record(s) repeat an earlier key")
    for note in notes:
        out.append(f"  note: {note}")
    for label, sign, items, total in (
        ("added", "+", d.added_examples, d.added),
        ("removed", "-", d.removed_examples, d.removed),
        ("modified", "~", d.modified_examples, d.modified),
    ):
        if not items:
            continue
        out.append(f"{label} (first {len(items)} of {total}):")
        for c in items:
            out.append(f"  {sign} {c.key}  {c.shard}:{c.line}")
            if c.old_shard is not None:
                out.append(f"      {c.field} was: {c.old_excerpt!r}  ({c.old_shard}:{c.old_line})")
                out.append(f"      {c.field} now: {c.excerpt!r}")
            else:
                out.append(f"      {c.excerpt!r}")
    return "\n".join(out) + "\n"
