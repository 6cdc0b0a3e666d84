"""``ftpolicy audit replay`` / ``audit log`` / ``audit report``: compliance audit from Git history alone."""

from __future__ import annotations

from pathlib import Path

import click

from ftpolicy.cli.options import engine_options

_REPO = click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Git repository (a clone or a bare clone; default: the current folder).",
)

REPLAY_EPILOG = """\b
Reads REV from Git objects only (no checkout; the work tree is never read or written).
For every adapter version in a registry channel at REV: the layout, identities (key
validity at each link's signing time), links, artifact rules, evidence digests and
revocations of REV, then the promotion policies of REV, with now = the commit time of REV.
Artifacts not committed are re-hashed from --artifacts when given, else reported
"not re-hashed (not in Git)". --policies-from REV2 also judges the same facts under the
policies/ and ftpolicy.yaml of REV2 and lists what would now be denied (policy drift;
informational, it does not change the exit code).
Exit codes: 0 every version verifies and is allowed, 1 a chain failure or a denial at REV,
2 usage error (unknown revision), 3 the policies could not be evaluated."""

LOG_EPILOG = """\b
Every promotion, rollback and revocation in registry/<adapter>.yaml with who, when, the
commit that recorded it (and whether Git reports that commit signed) and the attestations
behind it. The registry files' Git history must only append entries, and attestation files
must never change once committed: anything else is reported as tampering.
Exit codes: 0 no tampering, 1 tampering found, 2 usage error."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def audit() -> None:
    """Compliance audit: replay verification at a past commit, registry audit log."""


@audit.command(epilog=REPLAY_EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@_REPO
@click.option("--rev", default="HEAD", show_default=True, help="Revision to replay.")
@click.option("--adapter", default=None, metavar="NAME[@VERSION]", help="Only this adapter (version).")
@click.option("--policies-from", default=None, metavar="REV", help="Also judge under the policies of REV.")
@click.option(
    "--artifacts",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Folder with local artifacts (repository-relative names) to re-hash when Git lacks them.",
)
@engine_options()
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True
)
def replay(
    repo: Path | None,
    rev: str,
    adapter: str | None,
    policies_from: str | None,
    artifacts: Path | None,
    engine: str,
    opa_url: str | None,
    opa_token: str | None,
    fmt: str,
) -> None:
    """Re-verify every adapter version a registry channel held at REV, as of REV."""
    import os

    from ftpolicy.audit.replay import render
    from ftpolicy.audit.replay import replay as do_replay

    result = do_replay(
        repo or Path.cwd(),
        rev,
        adapter=adapter,
        policies_from=policies_from,
        artifacts=artifacts,
        engine=engine,
        opa_url=opa_url or os.environ.get("FTPOLICY_OPA_URL") or None,
        opa_token=opa_token or os.environ.get("FTPOLICY_OPA_TOKEN") or None,
    )
    click.echo(render(result, fmt), nl=False)
    if not result.ok:
        raise click.exceptions.Exit(1)


@audit.command(name="log", epilog=LOG_EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@_REPO
@click.option("--rev", default="HEAD", show_default=True, help="Revision whose history is read.")
@click.option("--adapter", default=None, metavar="NAME", help="Only this adapter.")
@click.option("--since", default=None, metavar="DATE", help="Only events at or after DATE (YYYY-MM-DD).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def log_cmd(repo: Path | None, rev: str, adapter: str | None, since: str | None, fmt: str) -> None:
    """Promotions, rollbacks and revocations, cross-checked against Git history."""
    from ftpolicy.audit.log import audit_log, render

    result = audit_log(repo or Path.cwd(), rev, adapter=adapter, since=since)
    click.echo(render(result, fmt), nl=False)
    if not result.ok:
        raise click.exceptions.Exit(1)


REPORT_EPILOG = """\b
Replays REV (as `audit replay`) and writes, for each adapter version in a registry channel,
the chain from corpus to promoted adapter: each step with its signers, teams, times, link,
evidence digest and summary (scan counts, eval scores vs thresholds, review decisions),
the chain failures and the policy decision. html: one self-contained file (inline CSS and
an SVG graph per adapter; no scripts or external resources); md: Markdown with Mermaid.
Exit codes: as `audit replay` (the report is written either way)."""


@audit.command(name="report", epilog=REPORT_EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@_REPO
@click.option("--rev", default="HEAD", show_default=True, help="Revision to replay.")
@click.option("--adapter", default=None, metavar="NAME[@VERSION]", help="Only this adapter (version).")
@click.option("--policies-from", default=None, metavar="REV", help="Also judge under the policies of REV.")
@click.option(
    "--artifacts",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Folder with local artifacts to re-hash when Git lacks them.",
)
@click.option("--format", "fmt", type=click.Choice(["html", "md", "json"]), default="html", show_default=True)
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (atomically).",
)
def report_cmd(
    repo: Path | None,
    rev: str,
    adapter: str | None,
    policies_from: str | None,
    artifacts: Path | None,
    fmt: str,
    output: Path,
) -> None:
    """Write an audit report (HTML, Markdown or JSON) of REV."""
    from ftpolicy._internal.atomic import write_text_atomic
    from ftpolicy.audit.replay import replay as do_replay
    from ftpolicy.audit.report import render_report

    result = do_replay(
        repo or Path.cwd(), rev, adapter=adapter, policies_from=policies_from, artifacts=artifacts
    )
    write_text_atomic(output, render_report(result, fmt))
    verdict = "pass" if result.ok else "fail"
    click.echo(f"wrote {output} ({len(result.adapters)} adapter version(s), {verdict})")
    if not result.ok:
        raise click.exceptions.Exit(1)
