"""Click options shared by several commands, defined once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

ENGINE_HELP = "embedded: in-process Rego (regopy); opa: a running OPA server."


def engine_options(help: str = ENGINE_HELP) -> Callable[[F], F]:
    """``--engine embedded|opa``, ``--opa-url`` and ``--opa-token`` (env FTPOLICY_OPA_URL/TOKEN)."""

    def decorate(fn: F) -> F:
        fn = click.option(
            "--opa-token",
            default=None,
            metavar="TOKEN",
            help="Bearer token for OPA [env FTPOLICY_OPA_TOKEN].",
        )(fn)
        fn = click.option(
            "--opa-url", default=None, metavar="URL", help="OPA server URL [env FTPOLICY_OPA_URL]."
        )(fn)
        return click.option(
            "--engine",
            type=click.Choice(["embedded", "opa"]),
            default="embedded",
            show_default=True,
            help=help,
        )(fn)

    return decorate
