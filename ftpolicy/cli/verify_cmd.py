"""``ftpolicy verify``: check an adapter's whole attestation chain before deploying it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ftpolicy.attest.verify import ChainFacts

EPILOG = """\b
Checks: the layout's owner signature and expiry; every link's signature, functionary
(key of an identity in the step's team, valid and not revoked when it signed);
thresholds by distinct identities; in-toto's artifact rules; then re-hashes the adapter
files, the dataset shards present locally and the evidence files against what was signed.

\b
Not yet: the promotion policies (package ftpolicy.promotion) are evaluated once the
policy engine lands; the verified facts are ready for it (--format json, `attestations`).

\b
Exit codes: 0 the chain holds, 1 it does not (each failure has a reason code),
2 usage or configuration error."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def verify() -> None:
    """Verify attestation chains before deploy."""


@verify.command(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("ref")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Governed repository (default: the nearest folder holding ftpolicy.yaml).",
)
@click.option(
    "--artifacts",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder holding adapter files and dataset shards under their repository-relative names "
    "(default: the repository).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github"]),
    default="text",
    show_default=True,
    help="json: the verified facts (ftpolicy/chain-facts/v1); sarif/github: the failures.",
)
@click.option(
    "--until",
    default=None,
    metavar="STEP",
    help="Verify the chain only up to STEP (e.g. security-approval, before promoting).",
)
@click.option(
    "--export",
    "export_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also copy the layout, owner keys and links to DIR for in-toto-verify / in-toto-golang "
    "(the command to run is printed on stderr).",
)
def adapter(
    ref: str, repo: Path | None, artifacts: Path | None, fmt: str, until: str | None, export_dir: Path | None
) -> None:
    """Verify the attestation chain of adapter NAME@VERSION."""
    from ftpolicy.attest.subject import Subject
    from ftpolicy.attest.verify import export_chain, verify_chain
    from ftpolicy.manifest import find_repo_root

    root = repo if repo is not None else find_repo_root(Path.cwd())
    subject = Subject.parse(ref if ref.startswith("adapter:") else f"adapter:{ref}")
    facts = verify_chain(root, subject, artifacts, until=until)
    if export_dir is not None:
        exported = export_chain(root, subject, export_dir)
        click.echo("in-toto-verify " + " ".join(exported.in_toto_verify_args()), err=True)
    _finish(root, facts, fmt)


DATASET_EPILOG = """\b
Checks the dataset part of the chain (ingest, preprocess, scan, dataset-review) as
`verify adapter` does, and re-hashes the dataset files present locally.
Exit codes: 0 the chain holds, 1 it does not, 2 usage or configuration error."""


@verify.command(epilog=DATASET_EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("ref")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Governed repository (default: the nearest folder holding ftpolicy.yaml).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github"]),
    default="text",
    show_default=True,
    help="json: the verified facts (ftpolicy/chain-facts/v1); sarif/github: the failures.",
)
def dataset(ref: str, repo: Path | None, fmt: str) -> None:
    """Verify the attestation chain of dataset NAME@VERSION (up to dataset-review)."""
    from ftpolicy.attest.subject import Subject
    from ftpolicy.attest.verify import verify_chain
    from ftpolicy.manifest import find_repo_root

    root = repo if repo is not None else find_repo_root(Path.cwd())
    subject = Subject.parse(ref if ref.startswith("dataset:") else f"dataset:{ref}")
    _finish(root, verify_chain(root, subject), fmt)


def _finish(root: Path, facts: ChainFacts, fmt: str) -> None:
    policy = evaluate_promotion_policies(root, facts)
    if fmt == "json":
        doc = facts.to_dict()
        doc["policies"] = policy
        click.echo(json.dumps(doc, indent=2, sort_keys=False))
    elif fmt in ("sarif", "github"):
        from ftpolicy.report.formats import render

        click.echo(render(facts.to_report(), fmt), nl=False)
    else:
        click.echo(render_text(facts, policy), nl=False)
    if not facts.ok:
        raise click.exceptions.Exit(1)


def evaluate_promotion_policies(root: Path, facts: ChainFacts) -> dict[str, Any]:
    """Hook for the promotion policies (package ftpolicy.promotion): NOT IMPLEMENTED YET.

    Once the policy engine lands, this builds the policy input with
    ``facts.to_policy_input()`` under ``input.attestations`` and returns the decision.
    Until then it reports that no policy was evaluated; the exit code reflects the
    chain only.
    """
    return {"evaluated": False, "reason": "the promotion policies come with the policy engine"}


def render_text(facts: ChainFacts, policy: dict[str, Any]) -> str:
    """One line per step (who, when, what), then failures and the verdict."""
    lines = [f"chain of {facts.subject} (dataset {facts.dataset or '?'})"]
    if facts.layout_path:
        signers = ", ".join(facts.layout_signers) or "no owner"
        lines.append(f"  layout {facts.layout_path}: signed by {signers}, expires {facts.layout_expires}")
    failed_steps = {f.step for f in facts.failures if f.step}
    for step in facts.steps:
        mark = "FAIL" if step.name in failed_steps or len(step.identities) < step.threshold else "ok  "
        if step.attestations:
            who = ", ".join(step.identities)
            when = max(a.signed_at for a in step.attestations)
            att = step.attestations[0]
            what = f"{len(att.materials)} materials, {len(att.products)} products"
            if att.evidence:
                what += f", evidence {att.evidence['sha256'][:12]}…"
        else:
            who, when, what = "-", "-", "no verified attestation"
        lines.append(f"  {mark} {step.name:<18} {who} [{'|'.join(step.teams)}]  {when}  {what}")
    lines.append(
        f"  re-hashed {facts.artifacts_checked} artifact file(s), {facts.bytes_hashed} bytes; "
        f"in-toto: {facts.in_toto}"
    )
    if facts.dataset_files_absent:
        lines.append(
            f"  {len(facts.dataset_files_absent)} dataset file(s) not present locally, not re-hashed"
        )
    for f in facts.failures:
        lines.append(f"  [{f.code}] {f.message}")
    state = "evaluated" if policy.get("evaluated") else f"not evaluated ({policy['reason']})"
    lines.append(f"  policies: {state}")
    verdict = "OK: the chain holds" if facts.ok else f"FAILED: {len(facts.failures)} problem(s)"
    lines.append(f"verify: {verdict}")
    return "\n".join(lines) + "\n"
