"""``ftpolicy sign``: sign an adapter version with OpenSSF model signing."""

from __future__ import annotations

from pathlib import Path

import click

EPILOG = """\b
Examples:
  ftpolicy sign adapter support-bot@1.0.0 --key ~/.ftpolicy/keys/erin.pem
  model_signing verify key artifacts/adapters/support-bot/1.0.0 \\
      --signature signatures/adapters/support-bot/1.0.0.sig --public_key identities/keys/erin.pub

\b
Signs the adapter folder (only when its files are exactly those adapters/NAME/VERSION.yaml
lists) with an ECDSA P-256 key, writes signatures/adapters/NAME/VERSION.sig (a Sigstore
bundle, as the upstream model_signing CLI writes) and records its path and sha256 in the
manifest. `ftpolicy verify adapter` then checks it (reason code model-signature).
Exit codes: 0 signed, 1 the adapter does not match its manifest, 2 usage error."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def sign() -> None:
    """Sign artifacts (OpenSSF model signing)."""


@sign.command("adapter", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("ref", metavar="NAME@VERSION")
@click.option(
    "--key",
    "key",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="ECDSA private key (PEM, from `ftpolicy keys generate`), kept outside the repository.",
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Governed repository (default: the nearest folder holding ftpolicy.yaml).",
)
def adapter(ref: str, key: Path, repo: Path | None) -> None:
    """Sign adapter NAME@VERSION's folder and record the signature in its manifest."""
    from ftpolicy.manifest import find_repo_root
    from ftpolicy.signing import sign_adapter

    root = repo if repo is not None else find_repo_root(Path.cwd())
    result = sign_adapter(root, ref.removeprefix("adapter:"), key)
    who = result.identity or f"key {result.keyid[:8]} (not in identities/)"
    click.echo(
        f"signed {result.folder} ({len(result.resources)} files) as {who}\n"
        f"  signature {result.signature_path} sha256 {result.sha256}\n"
        f"  recorded in adapters/{result.ref.replace('@', '/')}.yaml"
    )
