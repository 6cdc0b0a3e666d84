"""``ftpolicy attest``: sign what a pipeline step consumed and produced (an in-toto link)."""

from __future__ import annotations

from pathlib import Path

import click

EPILOG = """\b
Examples:
  ftpolicy attest scan --subject dataset:support@1.0 --key ~/.ftpolicy/keys/ci.pem \\
      --material datasets/support/data --evidence scan-summary.json
  ftpolicy attest train --subject adapter:bot@1.0 --key K --material datasets/support/data \\
      --product adapters/bot/1.0 -- python train.py --config training/bot.yaml
  ftpolicy attest start train --subject adapter:bot@1.0 --key K --material datasets/support/data
  ftpolicy attest stop train --subject adapter:bot@1.0 --key K --product adapters/bot/1.0

\b
Materials are hashed before COMMAND runs and products after; COMMAND runs with no
timeout. Artifact names are paths relative to the repository (or --base). The evidence
file is copied to attestations/<kind>/<name>/<version>/evidence/<step>.json and signed
as a product. The link is written to attestations/<kind>/<name>/<version>/<step>.<keyid8>.link.
Exit codes: 0 attested, 1 refused (key not a functionary, COMMAND failed, conflicting
evidence), 2 usage error."""


@click.command(
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "allow_interspersed_args": True},
)
@click.argument("args", nargs=-1, required=True, metavar="[start|stop] STEP [-- COMMAND...]")
@click.option("--subject", required=True, help="dataset:NAME@VERSION or adapter:NAME@VERSION.")
@click.option(
    "--key",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Private key of the functionary (outside the repository).",
)
@click.option(
    "--material", "materials", multiple=True, type=click.Path(path_type=Path), help="Input file or folder."
)
@click.option(
    "--product", "products", multiple=True, type=click.Path(path_type=Path), help="Output file or folder."
)
@click.option(
    "--evidence",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Step evidence JSON (scan summary, review decision, eval results, approval).",
)
@click.option(
    "--base",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder artifact names are relative to (default: the repository).",
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Governed repository (default: the nearest folder holding ftpolicy.yaml).",
)
def attest(
    args: tuple[str, ...],
    subject: str,
    key: Path,
    materials: tuple[Path, ...],
    products: tuple[Path, ...],
    evidence: Path | None,
    base: Path | None,
    repo: Path | None,
) -> None:
    """Attest STEP for a subject: `attest STEP [-- COMMAND...]` or `attest start|stop STEP`."""
    from ftpolicy.attest.link import attest_step, start_step, stop_step
    from ftpolicy.attest.subject import Subject
    from ftpolicy.errors import UsageError
    from ftpolicy.keys import load_signer
    from ftpolicy.manifest import find_repo_root

    mode = "run"
    rest = list(args)
    if rest[0] in ("start", "stop"):
        mode = rest.pop(0)
    if not rest:
        raise UsageError("missing STEP", hint="e.g. `ftpolicy attest start train --subject ... --key ...`")
    step, command = rest[0], rest[1:]
    root = repo if repo is not None else find_repo_root(Path.cwd())
    subj = Subject.parse(subject)
    signer = load_signer(key.expanduser(), repo=root)
    if mode == "start":
        if products or evidence or command:
            raise UsageError(
                "`attest start` takes materials only", hint="pass --product/--evidence to `attest stop`"
            )
        rel = start_step(root, step, subj, signer, materials=materials, base=base)
        click.echo(f"started {step} for {subj}: materials recorded in {rel}")
        click.echo(f"finish with `ftpolicy attest stop {step} --subject {subj} --key {key} --product ...`")
        return
    if mode == "stop":
        if materials or command:
            raise UsageError("`attest stop` takes products and evidence only")
        result = stop_step(root, step, subj, signer, products=products, evidence=evidence, base=base)
    else:
        result = attest_step(
            root,
            step,
            subj,
            signer,
            materials=materials,
            products=products,
            evidence=evidence,
            command=command,
            base=base,
        )
    click.echo(
        f"attested {result.step} for {result.subject}: {result.materials} materials, "
        f"{result.products} products, key {result.keyid[:8]}, signed {result.signed_at}"
    )
    click.echo(f"wrote {result.link_path}" + (f" and {result.evidence_path}" if result.evidence_path else ""))
