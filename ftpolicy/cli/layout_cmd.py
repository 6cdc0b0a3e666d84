"""``ftpolicy layout``: write and sign the fine-tuning pipeline's in-toto layout."""

from __future__ import annotations

from pathlib import Path

import click

_REPO = click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Governed repository (default: the nearest folder holding ftpolicy.yaml).",
)
_EXPIRES = click.option(
    "--expires-days",
    type=click.IntRange(1, 3650),
    default=None,
    help="Days until the layout expires (default: ftpolicy.yaml layout.expires_days, else 365).",
)


def _root(repo: Path | None) -> Path:
    from ftpolicy.manifest import find_repo_root

    return repo if repo is not None else find_repo_root(Path.cwd())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def layout() -> None:
    """Write (init) and sign the in-toto layout of the fine-tuning pipeline."""


INIT_EPILOG = """\b
Steps: ingest → preprocess → scan → dataset-review → train → adapter-scan →
security-eval → quality-eval → security-approval → promote. Functionaries are the keys
of the identities in each step's team (ftpolicy.yaml `teams`); dataset-review needs
datasets.min_reviewers (default 2) distinct identities; scan and adapter-scan also
accept the `scanners` team (scanner services). Artifact rules use the folders where the
manifests put shards, adapter files, training configs and eval items. Writes the
unsigned, readable layouts/finetune.layout.json; review it, then `ftpolicy layout sign`
(re-run both after adding or revoking a key)."""


@layout.command(epilog=INIT_EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@_REPO
@_EXPIRES
def init(repo: Path | None, expires_days: int | None) -> None:
    """Write the default fine-tuning layout (unsigned) from identities and teams."""
    from ftpolicy.attest.layout import build_default_layout, write_draft

    root = _root(repo)
    built = build_default_layout(root, expires_days=expires_days)
    rel = write_draft(root, built)
    for warning in built.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"wrote {rel} ({len(built.layout.steps)} steps, {len(built.layout.keys)} functionary keys)")
    click.echo("next: review it, then `ftpolicy layout sign --key OWNER_KEY`")


SIGN_EPILOG = """\b
The key must belong to an identity listed in ftpolicy.yaml layout.owners. The signed
layout is a DSSE envelope (layouts/finetune.layout) that in-toto-verify and
in-toto-golang read. Exit codes: 0 signed, 1 the key is not an owner's, 2 usage error."""


@layout.command(epilog=SIGN_EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--key",
    "key",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Owner's private key (outside the repository).",
)
@_REPO
@_EXPIRES
def sign(key: Path, repo: Path | None, expires_days: int | None) -> None:
    """Sign the layout with a layout owner's key (sets its expiry)."""
    from ftpolicy.attest.layout import sign_layout
    from ftpolicy.keys import load_signer

    root = _root(repo)
    signer = load_signer(key.expanduser(), repo=root)
    rel, expires = sign_layout(root, signer, expires_days=expires_days)
    click.echo(f"signed {rel} with key {signer.public_key.keyid[:8]} (expires {expires})")
