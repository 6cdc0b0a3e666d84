"""``ftpolicy verify``: check an adapter's whole attestation chain before deploying it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ftpolicy.cli.options import engine_options

if TYPE_CHECKING:
    from ftpolicy.attest.verify import ChainFacts
    from ftpolicy.promotion import PromotionResult

EPILOG = """\b
Checks: the layout's owner signature and expiry; every link's signature, functionary
(key of an identity in the step's team, valid and not revoked when it signed);
thresholds by distinct identities; in-toto's artifact rules; then re-hashes the adapter
files, the dataset shards present locally and the evidence files against what was signed.

\b
Then the promotion policies (package ftpolicy.promotion, with the other default
packages and ftpolicy.main's waivers) are evaluated on the verified facts: the security
approver is in security and neither trainer, quality-eval signer nor dataset author;
enough independent dataset reviewers; security evals of every category at or above the
registered suite's thresholds, on this adapter digest, not older than evals.max_age_days;
no high-severity scan finding unless waived by security. A chain that does not verify
contributes no fact (promotion/chain-unverified). FTPOLICY_NOW fixes the policy time.

\b
Exit codes: 0 the chain holds and the policies allow, 1 it does not (each failure has a
reason code, each violation a rule id), 2 usage or configuration error, 3 the policies
could not be evaluated (e.g. OPA unreachable)."""


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
    help="json: the verified facts (ftpolicy/chain-facts/v1) and the decision; sarif/github: "
    "the failures and the policy violations.",
)
@click.option(
    "--until",
    default=None,
    metavar="STEP",
    help="Verify the chain only up to STEP (e.g. security-approval, before promoting); "
    "the promotion policies are then not evaluated.",
)
@click.option(
    "--export",
    "export_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also copy the layout, owner keys and links to DIR for in-toto-verify / in-toto-golang "
    "(the command to run is printed on stderr).",
)
@engine_options("Policy engine for the promotion policies: embedded (regopy) or opa (a running OPA server).")
def adapter(
    ref: str,
    repo: Path | None,
    artifacts: Path | None,
    fmt: str,
    until: str | None,
    export_dir: Path | None,
    engine: str,
    opa_url: str | None,
    opa_token: str | None,
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
    engine_opts = {
        "engine": engine,
        "opa_url": opa_url or os.environ.get("FTPOLICY_OPA_URL") or None,
        "opa_token": opa_token or os.environ.get("FTPOLICY_OPA_TOKEN") or None,
    }
    _finish(root, facts, fmt, engine_opts if until is None else None)


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
    _finish(root, verify_chain(root, subject), fmt, None)


def _finish(root: Path, facts: ChainFacts, fmt: str, engine_opts: dict[str, Any] | None) -> None:
    from ftpolicy.errors import EvaluationError

    result: PromotionResult | None = None
    policy: dict[str, Any]
    if engine_opts is None:
        policy = {"evaluated": False, "reason": "only the chain is verified here (dataset, or --until)"}
    else:
        try:
            result = evaluate_promotion_policies(root, facts, **engine_opts)
            policy = result.to_dict()
        except EvaluationError as exc:
            policy = {"evaluated": False, "error": exc.diagnostics(), "reason": "could not evaluate"}
    if fmt == "json":
        doc = facts.to_dict()
        doc["policies"] = policy
        click.echo(json.dumps(doc, indent=2, sort_keys=False))
    elif fmt in ("sarif", "github"):
        from ftpolicy.promotion import promotion_report
        from ftpolicy.report.formats import render

        click.echo(render(promotion_report(facts, result), fmt), nl=False)
    else:
        click.echo(render_text(facts, policy), nl=False)
    if not facts.ok or (result is not None and not result.allowed):
        raise click.exceptions.Exit(1)
    if engine_opts is not None and result is None:
        raise click.exceptions.Exit(3)


def evaluate_promotion_policies(root: Path, facts: ChainFacts, **engine_opts: Any) -> PromotionResult:
    """The promotion policies on the verified facts (:func:`ftpolicy.promotion.evaluate_promotion`)."""
    from ftpolicy.promotion import evaluate_promotion

    return evaluate_promotion(root, facts, now=os.environ.get("FTPOLICY_NOW") or None, **engine_opts)


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
    denied = policy.get("deny", [])
    if policy.get("evaluated"):
        lines.append(
            f"  policies ({policy['engine']}): {'allow' if policy['allow'] else 'deny'}, "
            f"{len(denied)} violation(s), {len(policy.get('waived', []))} waived"
        )
        for v in denied:
            lines.append(f"  [{v['rule']}] {v['msg']}")
        for w in policy.get("waived", []):
            who = ", ".join(x["owner"] for x in w["waivers"])
            lines.append(f"  waived [{w['violation']['rule']}] by {who}: {w['violation']['msg']}")
    elif "error" in policy:
        lines.append(f"  policies: could not be evaluated: {policy['error']}")
    else:
        lines.append(f"  policies: not evaluated ({policy['reason']})")
    if not facts.ok:
        verdict = f"FAILED: {len(facts.failures)} problem(s)"
    elif policy.get("evaluated") and denied:
        verdict = f"FAILED: the chain holds, the policies deny ({len(denied)} violation(s))"
    elif "error" in policy:
        verdict = "ERROR: the chain holds, the policies could not be evaluated"
    elif policy.get("evaluated"):
        verdict = "OK: the chain holds and the policies allow"
    else:
        verdict = "OK: the chain holds"
    lines.append(f"verify: {verdict}")
    return "\n".join(lines) + "\n"
