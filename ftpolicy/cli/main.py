"""The ``ftpolicy`` command: a click group whose subcommands are imported lazily.

This module is the single boundary where :class:`ftpolicy.errors.FtpolicyError` is
rendered and turned into an exit code (0 pass, 1 violation, 2 usage/config, 3 could not
evaluate). Subcommand modules are imported only when invoked so that ``--help`` and
``--version`` start fast.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from typing import Any

import click

from ftpolicy import __version__

# name -> (module:attribute, one-line help shown by `ftpolicy --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("ftpolicy.cli.init_cmd:init", "Scaffold a governed repository (idempotent)."),
    "validate": ("ftpolicy.cli.validate_cmd:validate", "Validate manifests against their schemas."),
    "dataset": ("ftpolicy.cli.dataset_cmd:dataset", "Hash, add and diff dataset versions."),
    "check": ("ftpolicy.cli.check_cmd:check", "Pull-request gate: evaluate policies on what changed."),
    "policy": ("ftpolicy.cli.policy_cmd:policy", "Run Rego unit tests and build OPA bundles."),
    "scan": ("ftpolicy.cli.scan_cmd:scan", "Scan datasets (and adapters) for poisoning and unsafe content."),
    "keys": ("ftpolicy.cli.keys_cmd:keys", "Generate signing keys and register public keys in identities/."),
    "layout": ("ftpolicy.cli.layout_cmd:layout", "Write and sign the fine-tuning pipeline's in-toto layout."),
    "attest": ("ftpolicy.cli.attest_cmd:attest", "Attest a pipeline step (signed in-toto link)."),
    "verify": ("ftpolicy.cli.verify_cmd:verify", "Verify an adapter's attestation chain before deploy."),
    "sign": ("ftpolicy.cli.sign_cmd:sign", "Sign an adapter version with OpenSSF model signing."),
    "promote": ("ftpolicy.cli.registry_cmd:promote", "Promote an adapter version to a registry channel."),
    "rollback": ("ftpolicy.cli.registry_cmd:rollback", "Return a channel to its previous good version."),
    "revoke": ("ftpolicy.cli.registry_cmd:revoke", "Revoke an adapter version everywhere."),
    "registry": ("ftpolicy.cli.registry_cmd:registry", "Show an adapter's registry channels and history."),
    "eval": ("ftpolicy.cli.eval_cmd:eval_group", "Seal holdout suites, run security evals, import results."),
    "audit": ("ftpolicy.cli.audit_cmd:audit", "Compliance audit: replay a past commit, registry audit log."),
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            target, _ = COMMANDS[cmd_name]
            module_name, attr = target.split(":")
            module = importlib.import_module(module_name)
            cmd = getattr(module, attr)
            assert isinstance(cmd, click.Command)
            return cmd
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


EPILOG = """\b
Exit codes: 0 pass, 1 policy violation / invalid manifest / verification
failed, 2 usage or configuration error, 3 could not evaluate.
Run `ftpolicy COMMAND --help` for each command's options and examples."""


@click.group(cls=LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="ftpolicy")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and debug logging.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """ftpolicy: policy-as-code for fine-tuning security.

    Manifests for datasets, eval suites, adapters and registry channels live in Git,
    are validated by JSON Schema, judged by Rego policies and bound together by
    signed in-toto attestations.
    """
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


def _verbose_requested(args: list[str]) -> bool:
    return "-v" in args or "--verbose" in args or os.environ.get("FTPOLICY_VERBOSE") == "1"


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    code = 0
    try:
        # Without standalone mode click *returns* the code of `raise click.exceptions.Exit(n)`
        # (and of --help/--version) instead of raising it.
        rv = cli.main(args=args, prog_name="ftpolicy", standalone_mode=False)
        if isinstance(rv, int) and not isinstance(rv, bool):
            code = rv
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)  # 2 for usage errors
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except Exception as exc:  # the single error boundary
        _render_and_exit(exc, _verbose_requested(args))
    sys.exit(code)


def _render_and_exit(exc: BaseException, verbose: bool) -> None:
    from ftpolicy.errors import ExitCode, FtpolicyError

    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, FtpolicyError):
        click.echo(f"error: {exc.diagnostics()}", err=True)
        sys.exit(int(exc.exit_code))
    if isinstance(exc, KeyboardInterrupt):  # pragma: no cover
        sys.exit(130)
    click.echo(
        f"internal error: {type(exc).__name__}: {exc}\n"
        "  hint: this is a bug in ftpolicy; rerun with --verbose and report the traceback",
        err=True,
    )
    sys.exit(int(ExitCode.EVALUATION))


def run_result(code: int) -> Any:
    """Finish a command with an exit code (used by subcommands)."""
    raise click.exceptions.Exit(code)
