"""``ftpolicy init``: scaffold a governed repository (idempotent, never overwrites)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import click

EPILOG = """\b
Examples:
  ftpolicy init                      govern the current folder
  ftpolicy init ml-governance        create ./ml-governance and govern it
  ftpolicy init . --project support-bot

\b
Running it again creates only what is missing; existing files are always kept."""


@click.command(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("directory", required=False, default=".", type=click.Path(path_type=Path))
@click.option(
    "--project",
    default=None,
    metavar="NAME",
    help="Project name written to ftpolicy.yaml (default: derived from the folder name).",
)
@click.option(
    "--git/--no-git",
    default=True,
    show_default=True,
    help="Run `git init` when DIRECTORY is not inside a Git repository.",
)
def init(directory: Path, project: str | None, git: bool) -> None:
    """Scaffold a governed repository in DIRECTORY (default: the current folder).

    Creates ftpolicy.yaml (config with commented defaults: team roles, licence
    allowlist, two dataset reviewers, eval freshness, staging/production channels),
    identities/teams.yaml, and the folders datasets/ evals/ adapters/ registry/
    attestations/ layouts/ policies/ with a README.md saying what goes in each. Runs
    `git init` first when DIRECTORY is not inside a Git repository.
    """
    from ftpolicy.scaffold import scaffold

    result = scaffold(directory, project=project, git=git)
    if result.git_initialized:
        click.echo(f"initialised a Git repository in {result.root}")
    for action in result.actions:
        click.echo(f"{action.action:8} {action.path}")
    created, kept = len(result.created), len(result.kept)
    if result.changed:
        click.echo(f"\n{created} created, {kept} kept (existing files are never overwritten)")
    else:
        click.echo(f"\nnothing to do: all {kept} paths already exist and were kept")
    click.echo("\nNext steps:")
    step = 1
    shown = os.path.relpath(result.root)
    if shown != ".":
        click.echo(f"  {step}. cd {shlex.quote(shown if not shown.startswith('..') else str(result.root))}")
        step += 1
    for line in (
        "review ftpolicy.yaml and identities/teams.yaml; add people as identities/<name>.yaml",
        "register a dataset version: ftpolicy dataset add NAME --version 1.0.0 --shard data/train.jsonl",
        "check every manifest: ftpolicy validate",
        'commit: git add -A && git commit -m "Govern fine-tuning with ftpolicy"',
    ):
        click.echo(f"  {step}. {line}")
        step += 1
