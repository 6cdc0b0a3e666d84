"""``ftpolicy validate``: check manifests against their schemas and the repository rules."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ftpolicy.validation import ValidationReport

EPILOG = """\b
Examples:
  ftpolicy validate                              every manifest of the repository
  ftpolicy validate datasets/support/1.0.0.yaml  one file
  ftpolicy validate datasets/ evals/             the manifests under these folders
  ftpolicy validate --repo examples/governed-repo --format json
  ftpolicy validate --format sarif > validate.sarif  for GitHub code scanning

\b
Exit codes: 0 every manifest is valid, 1 at least one is invalid,
2 usage or configuration error (no ftpolicy.yaml, a path outside the repository)."""


@click.command(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    "repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Governed repository (default: the nearest folder at or above the current one "
    "that holds ftpolicy.yaml).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github"]),
    default="text",
    show_default=True,
    help="Report format: json is stable and versioned (ftpolicy/validate-report/v1); sarif "
    "(2.1.0) for code scanning; github for workflow annotations.",
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
def validate(repo: Path | None, fmt: str, paths: tuple[str, ...]) -> None:
    """Validate manifests against their JSON Schemas and the repository rules.

    Checks every manifest of the governed repository, or only PATHS (files, or folders
    standing for the manifests under them). All problems of every file are reported,
    each with file, line and column, what is wrong and how to fix it: YAML syntax,
    duplicate keys, unknown or missing fields, wrong types and formats, unsupported
    schema_version, paths that leave the repository (absolute, '..', symlinks), and
    YAML files in manifest folders that are not at a manifest location.
    """
    from ftpolicy.manifest import find_repo_root
    from ftpolicy.validation import validate_repo

    cwd = Path.cwd()
    root = repo if repo is not None else find_repo_root(cwd)
    report = validate_repo(root, list(paths), cwd=cwd)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    elif fmt in ("sarif", "github"):
        from ftpolicy.report import render

        click.echo(render(report.to_report(lambda rel: _shown(report, rel, cwd)), fmt), nl=False)
    else:
        click.echo(_render_text(report, cwd), nl=False)
    if not report.ok:
        raise click.exceptions.Exit(1)


def _shown(report: ValidationReport, rel: str, cwd: Path) -> str:
    """The file as the user can open it: relative to the current folder when inside it."""
    full = report.root / rel
    shown = os.path.relpath(full, cwd)
    return str(full) if shown.startswith("..") else shown


def _render_text(report: ValidationReport, cwd: Path) -> str:
    lines: list[str] = []
    for file in report.files:
        name = _shown(report, file.path, cwd)
        for p in file.problems:
            where = name
            if p.line is not None:
                where += f":{p.line}"
                if p.column is not None:
                    where += f":{p.column}"
            lines.append(f"{where}: {p.message}")
            if p.hint:
                lines.append(f"    hint: {p.hint}")
    n = report.checked
    noun = "manifest" if n == 1 else "manifests"
    if report.ok:
        lines.append(f"{n} {noun} checked, all valid")
    else:
        bad = len(report.invalid)
        count = report.problem_count
        lines.append(f"{n} {noun} checked, {bad} invalid ({count} problem{'' if count == 1 else 's'})")
    return "\n".join(lines) + "\n"
