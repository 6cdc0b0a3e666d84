"""``ftpolicy promote`` / ``rollback`` / ``revoke`` / ``registry show``: the adapter registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ftpolicy.registry.ops import Outcome

_REPO = click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Governed repository (default: the nearest folder holding ftpolicy.yaml).",
)
_KEY = click.option(
    "--key",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Your private key (PEM, outside the repository); it names who acts.",
)
_COMMIT = click.option(
    "--commit", is_flag=True, help="Also commit the registry change (and attestation) to Git."
)

PROMOTE_EPILOG = """\b
Checks, in order: the channel is configured; the key belongs to an identity (only team
publishers may change production or any channel in registry.require_staging_before);
the version is not revoked; it was in the channel before a gated one (staging before
production); `verify` of its chain up to security-approval holds; the promoter did not
train it; for production or a gated channel, the promotion policies allow the chain (the
ones `verify` evaluates: security eval present, at threshold, on this adapter digest and a
registered suite version, not signed by the trainer, ...). A gated channel also gets the
signed in-toto promote attestation. Exit codes: 0 done, 1 refused (the reason code is
printed), 2 usage error, 3 the policies could not be evaluated."""


def _root(repo: Path | None) -> Path:
    from ftpolicy.manifest import find_repo_root

    return repo if repo is not None else find_repo_root(Path.cwd())


def _say(o: Outcome) -> None:
    where = f" {o.channel}" if o.channel else ""
    was = f" (was {o.previous})" if o.previous else ""
    click.echo(
        f"{o.action} {o.adapter}@{o.version}{where}{was}: history #{o.entry['seq']} in {o.registry_path}"
    )
    if o.attestation:
        click.echo(f"  attestation {o.attestation}")
    if o.commit:
        click.echo(f"  committed {o.commit}")


@click.command(epilog=PROMOTE_EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("ref", metavar="NAME@VERSION")
@click.option("--channel", required=True, help="Registry channel, e.g. staging or production.")
@_KEY
@_REPO
@_COMMIT
def promote(ref: str, channel: str, key: Path, repo: Path | None, commit: bool) -> None:
    """Promote an adapter version to a registry channel."""
    from ftpolicy.registry.ops import promote as do_promote

    _say(do_promote(_root(repo), ref, channel, key, commit=commit))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@click.option("--channel", required=True)
@click.option(
    "--to",
    "to",
    default=None,
    metavar="VERSION",
    help="Version to return to (default: the previous good one).",
)
@_KEY
@_REPO
@_COMMIT
def rollback(name: str, channel: str, to: str | None, key: Path, repo: Path | None, commit: bool) -> None:
    """Return a channel to its previous good version (revoked versions are skipped), re-verified."""
    from ftpolicy.registry.ops import rollback as do_rollback

    _say(do_rollback(_root(repo), name, channel, key, to=to, commit=commit))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("ref", metavar="NAME@VERSION")
@click.option("--reason", required=True, help="Why the version must not be used.")
@_KEY
@_REPO
@_COMMIT
def revoke(ref: str, reason: str, key: Path, repo: Path | None, commit: bool) -> None:
    """Revoke an adapter version everywhere (promote, rollback and verify refuse it)."""
    from ftpolicy.registry.ops import revoke as do_revoke

    outcome = do_revoke(_root(repo), ref, reason, key, commit=commit)
    _say(outcome)
    from ftpolicy.registry.store import load_registry

    doc = load_registry(_root(repo), outcome.adapter)
    for ch, cur in doc["channels"].items():
        if cur and cur["version"] == outcome.version:
            click.echo(
                f"  warning: {ch} still serves {outcome.version}; run "
                f"`ftpolicy rollback {outcome.adapter} --channel {ch}`",
                err=True,
            )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def registry() -> None:
    """Inspect the adapter registry."""


@registry.command("show", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@_REPO
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def show(name: str, repo: Path | None, fmt: str) -> None:
    """Print an adapter's channels and history."""
    from ftpolicy.errors import UsageError
    from ftpolicy.registry.ops import render_registry
    from ftpolicy.registry.store import load_registry, registry_rel

    root = _root(repo)
    if not (root / registry_rel(name)).is_file():
        raise UsageError(f"{registry_rel(name)}: no such registry file", hint="promote a version first")
    doc = load_registry(root, name)
    click.echo(json.dumps(doc, indent=2) if fmt == "json" else render_registry(doc), nl=fmt == "json")
