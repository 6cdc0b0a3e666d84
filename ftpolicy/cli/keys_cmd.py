"""``ftpolicy keys``: generate signing keys and register their public halves."""

from __future__ import annotations

from pathlib import Path

import click

EPILOG = """\b
Examples:
  ftpolicy keys generate --name alice --out ~/.ftpolicy/keys
  ftpolicy keys generate --name alice --out ~/.ftpolicy/keys --identity alice --team data-review
  ftpolicy keys generate --name ci-trainer --out /secure/keys --type ed25519 --identity ci --service

\b
The private key (NAME.pem, mode 0600) is written to --out, never inside the governed
repository; the public key goes to identities/keys/NAME.pub in the repository.
Exit codes: 0 written, 2 usage error (bad name, --out inside the repository, file exists)."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def keys() -> None:
    """Generate signing keys (ECDSA P-256 by default) for attestations."""


@keys.command(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--name", required=True, help="Key name: the files are NAME.pem and identities/keys/NAME.pub.")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the private key, outside the repository (e.g. ~/.ftpolicy/keys).",
)
@click.option(
    "--type",
    "key_type",
    type=click.Choice(["ecdsa", "ed25519"]),
    default="ecdsa",
    show_default=True,
    help="ecdsa (P-256) also signs adapters with OpenSSF model signing; ed25519 only in-toto.",
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Governed repository (default: the nearest folder holding ftpolicy.yaml, if any).",
)
@click.option("--identity", default=None, help="Create or update identities/IDENTITY.yaml with this key.")
@click.option("--team", "teams", multiple=True, help="Team of the identity (repeatable), with --identity.")
@click.option("--service", is_flag=True, help="The identity is a service (CI), not a person.")
def generate(
    name: str,
    out: Path,
    key_type: str,
    repo: Path | None,
    identity: str | None,
    teams: tuple[str, ...],
    service: bool,
) -> None:
    """Generate a key pair and register the public key in identities/."""
    from ftpolicy.errors import UsageError
    from ftpolicy.identities import add_key_to_identity, identity_snippet
    from ftpolicy.keys import generate_key
    from ftpolicy.manifest import find_repo_root

    if repo is None:
        try:
            repo = find_repo_root(Path.cwd())
        except UsageError:
            repo = None
    if (identity or teams) and repo is None:
        raise UsageError("--identity/--team need a governed repository", hint="pass --repo DIR")
    if teams and not identity:
        raise UsageError("--team needs --identity NAME", hint="add --identity NAME")
    gen = generate_key(name, out.expanduser(), key_type=key_type, repo=repo)  # type: ignore[arg-type]
    click.echo(f"keyid:       {gen.keyid}")
    click.echo(f"scheme:      {gen.scheme}")
    click.echo(f"private key: {gen.private_path} (mode 0600; keep it out of the repository)")
    if gen.public_rel is None:
        click.echo("public key (no repository found; save it as identities/keys/NAME.pub):")
        click.echo(gen.public_pem, nl=False)
        return
    click.echo(f"public key:  {gen.public_rel}")
    kind = "service" if service else "person"
    if identity and repo is not None:
        rel = add_key_to_identity(
            repo,
            identity,
            keyid=gen.keyid,
            public_key=gen.public_rel,
            scheme=gen.scheme,
            teams=list(teams),
            kind=kind,
        )
        click.echo(f"identity:    {rel} (commit it with the public key)")
    else:
        click.echo("\nadd this identity as identities/NAME.yaml (or rerun with --identity NAME --team T):\n")
        click.echo(
            identity_snippet(
                name, keyid=gen.keyid, public_key=gen.public_rel, scheme=gen.scheme, teams=[], kind=kind
            ),
            nl=False,
        )
