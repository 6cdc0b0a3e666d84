"""``ftpolicy check``: the pull-request gate over what changed between two revisions."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ftpolicy.cli.options import engine_options

EPILOG = """\b
Examples:
  ftpolicy check                                  every manifest at HEAD
  ftpolicy check --base origin/main               only what this branch changed
  ftpolicy check --base origin/main --format github    annotations + job summary
  ftpolicy check --base origin/main --format sarif --output check.sarif
  ftpolicy check --engine opa --opa-url http://127.0.0.1:8181
  ftpolicy check --base origin/main --extra-policies ../org-policies

\b
Exit codes: 0 pass, 1 denied (or warned, with --fail-on-warn),
2 usage or configuration error, 3 could not evaluate (engine unreachable,
policy does not compile, undefined decision, evaluation error)."""


@click.command(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Governed repository (default: the nearest folder at or above the current one that holds "
    "ftpolicy.yaml). It may be a folder inside a larger Git repository.",
)
@click.option("--base", default=None, metavar="REV", help="Judge only what HEAD changed since it left REV.")
@click.option("--head", default="HEAD", show_default=True, metavar="REV", help="The revision to judge.")
@engine_options()
@click.option(
    "--policies",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Policy library to use instead of the bundled defaults (the repository's own policies/ "
    "are always added).",
)
@click.option(
    "--extra-policies",
    "extra_policies",
    type=click.Path(file_okay=False, path_type=Path),
    multiple=True,
    metavar="DIR",
    help="Policy folder (local files) added beside the bundled defaults and the repository's own "
    "policies; repeatable. Packages ftpolicy.<name> are collected; the default packages may not be "
    "extended.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github"]),
    default="text",
    show_default=True,
    help="json is stable and versioned (ftpolicy/report/v1); sarif 2.1.0 for code scanning; github "
    "for workflow annotations plus a job summary in $GITHUB_STEP_SUMMARY.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Write the report to FILE instead of standard output.",
)
@click.option("--fail-on-warn", is_flag=True, help="Exit 1 on warnings too.")
def check(
    repo: Path | None,
    base: str | None,
    head: str,
    engine: str,
    opa_url: str | None,
    opa_token: str | None,
    policies: Path | None,
    extra_policies: tuple[Path, ...],
    fmt: str,
    output: Path | None,
    fail_on_warn: bool,
) -> None:
    """Evaluate the policies on what changed between --base and --head.

    Reads manifests, configuration and the repository's own policies from Git objects at
    --head (never from the work tree); only local data files are read, to compare shard
    digests. With --base, judges the manifests the change touched plus the ones they
    reference (a dataset's parent, an adapter's datasets); without it, every manifest.
    One query, data.ftpolicy.main.decision, decides; anything that stops a decision is
    exit 3, never a pass.
    """
    from ftpolicy.check import run_check
    from ftpolicy.report import markdown_summary, render

    report = run_check(
        repo,
        base=base,
        head=head,
        engine=engine,
        opa_url=opa_url or os.environ.get("FTPOLICY_OPA_URL") or None,
        opa_token=opa_token or os.environ.get("FTPOLICY_OPA_TOKEN") or None,
        policies=policies,
        extra_policies=extra_policies,
        now=os.environ.get("FTPOLICY_NOW") or None,
        fail_on_warn=fail_on_warn,
    )
    text = render(report, fmt)
    if output is not None:
        from ftpolicy._internal.atomic import write_text_atomic

        write_text_atomic(output, text)
    else:
        click.echo(text, nl=False)
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if fmt == "github" and summary_file:
        with open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(markdown_summary(report))
    if report.status != "pass":
        raise click.exceptions.Exit(1)
