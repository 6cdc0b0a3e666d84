"""``ftpolicy policy``: run Rego unit tests on the embedded engine and build OPA bundles."""

from __future__ import annotations

import json
from pathlib import Path

import click

TEST_EPILOG = """\b
Examples:
  ftpolicy policy test                      the default library (+ the repo's policies/)
  ftpolicy policy test policies/ -v         one folder, with timings and print() output
  ftpolicy policy test --run dataset        only tests whose data.<pkg>.<rule> matches
  ftpolicy policy test --format json

\b
Exit codes: 0 every test passed, 1 a test failed, 3 a test (or the
policies) could not be evaluated, 2 usage error."""

BUNDLE_EPILOG = """\b
Examples:
  ftpolicy policy bundle --output bundle.tar.gz
  ftpolicy policy bundle policies/ --output dist/policies.tar.gz --revision v1.4.0
  opa run --server --bundle bundle.tar.gz     serve it

\b
The bundle's .manifest revision is the Git commit of the policy folders
(refused when they have uncommitted changes) unless --revision is given."""

_DIRS = click.argument("dirs", nargs=-1, type=click.Path(file_okay=False, path_type=Path))


def _default_dirs() -> list[Path]:
    """The bundled default library, plus ``policies/`` of the governed repository around us."""
    from ftpolicy.errors import UsageError
    from ftpolicy.manifest import find_repo_root
    from ftpolicy.resources import policies_dir

    dirs = [policies_dir()]
    try:
        root = find_repo_root(Path.cwd())
    except UsageError:
        return dirs
    own = root / "policies"
    if own.is_dir() and own.resolve() != dirs[0].resolve():
        dirs.append(own)
    return dirs


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def policy() -> None:
    """Run Rego unit tests and build OPA bundles from policy folders.

    With no DIR, both commands use the default policy library shipped with ftpolicy
    plus the policies/ folder of the governed repository you are in (if any).
    """


@policy.command("test", epilog=TEST_EPILOG)
@_DIRS
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json is stable and versioned (version 1).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show durations and what tests print().")
@click.option("--run", "run", metavar="REGEX", default=None, help="Only run tests whose query matches REGEX.")
def test_cmd(dirs: tuple[Path, ...], fmt: str, verbose: bool, run: str | None) -> None:
    """Run the Rego unit tests (test_* rules, usually in *_test.rego) under DIR...

    Tests run on the embedded engine (regopy) the way `opa test` runs them: no input
    document, built-in errors make an expression undefined. A test passes when it
    evaluates to true; false or undefined is a failure; an evaluation error is an error.
    """
    from ftpolicy.cli.main import run_result
    from ftpolicy.policy.regotest import run_tests

    folders = list(dirs) or _default_dirs()
    report = run_tests(folders, run=run)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    else:
        labels = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "skip": "SKIP"}
        for result in report.results:
            t = result.test
            line = f"{labels[result.status]:<5} {t.query}  ({t.file}:{t.line})"
            if verbose:
                line += f"  {result.duration_ms:.2f} ms"
            click.echo(line)
            if result.message and result.status != "pass":
                click.echo(f"      {result.message}")
            if verbose and result.output:
                for printed in result.output.rstrip("\n").splitlines():
                    click.echo(f"      | {printed}")
        if not report.results:
            click.echo(f"no tests found in {', '.join(str(f) for f in folders)}")
        counts = (
            f"{report.count('pass')} passed, {report.count('fail')} failed, "
            f"{report.count('error')} errors, {report.count('skip')} skipped"
        )
        click.echo(f"{counts} ({report.engine})", err=True)
    if report.exit_code:
        run_result(int(report.exit_code))


@policy.command("bundle", epilog=BUNDLE_EPILOG)
@_DIRS
@click.option(
    "--output",
    "-o",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Where to write the bundle (.tar.gz).",
)
@click.option("--revision", default=None, metavar="REV", help="Revision for .manifest (default: Git HEAD).")
def bundle_cmd(dirs: tuple[Path, ...], output: Path, revision: str | None) -> None:
    """Build a deterministic OPA bundle (tar.gz) from the policies under DIR...

    The bundle holds the .rego modules (tests excluded), data.json with the merged
    data documents and a .manifest with revision, roots and rego_version 1.
    """
    from ftpolicy.policy.bundle import write_bundle

    folders = list(dirs) or _default_dirs()
    info = write_bundle(folders, output, revision=revision)
    click.echo(
        f"wrote {output}: {info.modules} modules, revision {info.revision}, "
        f"roots {', '.join(info.roots)}, {info.sha256}",
        err=True,
    )
