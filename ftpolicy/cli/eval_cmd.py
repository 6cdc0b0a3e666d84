"""``ftpolicy eval``: seal holdout suites, run them against a model, import other tools' results."""

from __future__ import annotations

from pathlib import Path

import click

_REPO_OPTION = click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Governed repository (default: the nearest folder holding ftpolicy.yaml).",
)


def _root(repo: Path | None) -> Path:
    from ftpolicy.manifest import find_repo_root

    return repo.resolve() if repo is not None else find_repo_root(Path.cwd())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def eval_group() -> None:
    """Sealed holdout security evaluation (seal, run, import)."""


SEAL_EPILOG = """\b
Examples:
  ftpolicy eval seal holdout/items.jsonl --name security-holdout --version 2026.12 \\
      --threshold secret-leakage=0.95 --threshold refusal=0.9 --sealed-by dave

\b
Writes evals/NAME/VERSION.yaml (never overwrites: sealed versions are immutable) with
the categories, item counts, per-category item digests and items_digest and the suite
digest (sha256 over the sorted RFC 8785 digests of the items). The items file may live
outside the repository; --items-path records a repository-relative copy.
Exit codes: 0 sealed, 1 the version exists or the manifest is invalid, 2 usage error."""


@eval_group.command("seal", epilog=SEAL_EPILOG)
@click.argument("items_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--name", required=True, help="Suite name (evals/NAME/).")
@click.option("--version", "version", required=True, help="Suite version (evals/NAME/VERSION.yaml).")
@click.option(
    "--threshold", "thresholds", multiple=True, metavar="CATEGORY=RATE", help="Pass-rate threshold."
)
@click.option("--max-over-refusal", type=float, default=0.1, show_default=True, help="Refusal category.")
@click.option("--owner-team", default="security", show_default=True, help="Team that owns the suite.")
@click.option("--description", default=None, help="One line describing the suite.")
@click.option("--sealed-by", default=None, help="Identity sealing the suite (identities/).")
@click.option("--items-path", default=None, help="Repository-relative path of the items (recorded).")
@click.option("--items-uri", default=None, help="Where the items live outside the repository (recorded).")
@_REPO_OPTION
def seal(
    items_file: Path,
    name: str,
    version: str,
    thresholds: tuple[str, ...],
    max_over_refusal: float,
    owner_team: str,
    description: str | None,
    sealed_by: str | None,
    items_path: str | None,
    items_uri: str | None,
    repo: Path | None,
) -> None:
    """Seal ITEMS_FILE (JSONL) as the eval-suite version NAME@VERSION."""
    from ftpolicy.errors import UsageError
    from ftpolicy.evals.seal import build_manifest, read_items, write_suite

    given: dict[str, float] = {}
    for spec in thresholds:
        cat, sep, value = spec.partition("=")
        try:
            given[cat.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise UsageError(
                f"--threshold {spec!r} is not CATEGORY=RATE", hint="e.g. --threshold refusal=0.9"
            )
    root = _root(repo)
    items = read_items(items_file)
    manifest = build_manifest(
        items,
        name=name,
        version=version,
        thresholds=given,
        owner_team=owner_team,
        description=description,
        items_path=items_path,
        items_uri=items_uri,
        max_over_refusal=max_over_refusal,
        sealed_by=sealed_by,
    )
    rel = write_suite(root, manifest)
    counts = ", ".join(f"{c} {v['items']}" for c, v in manifest["categories"].items())
    click.echo(f"sealed {name}@{version}: {len(items)} items ({counts}) -> {rel}")
    click.echo(f"items digest {manifest['items']['digest']}")
