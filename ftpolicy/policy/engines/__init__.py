"""Policy engines: evaluate a :class:`PolicySet` with regopy in-process or on an OPA server.

>>> from ftpolicy.policy.engines import get_engine, load_policy_set
>>> policies = load_policy_set([Path("policies")])                       # doctest: +SKIP
>>> engine = get_engine("embedded")                                      # doctest: +SKIP
>>> engine.query(policies, "data.ftpolicy.main.decision", {"manifests": []})  # doctest: +SKIP

Both engines raise :class:`ftpolicy.errors.EvaluationError` (exit code 3) instead of returning
an undefined or partial result; see :mod:`ftpolicy.policy.engines.interface` for the causes.
"""

from __future__ import annotations

from typing import Literal

from ftpolicy.errors import EvaluationError, UsageError
from ftpolicy.policy.engines.interface import PolicyEngine, UndefinedResult, query_path
from ftpolicy.policy.engines.policyset import PolicySet, load_policy_set

__all__ = [
    "DEFAULT_OPA_URL",
    "ENGINE_NAMES",
    "OPA_TOKEN_ENV",
    "OPA_URL_ENV",
    "EvaluationError",
    "PolicyEngine",
    "PolicySet",
    "UndefinedResult",
    "get_engine",
    "load_policy_set",
    "query_path",
]

#: Engine names accepted by :func:`get_engine` (and ``--engine``).
ENGINE_NAMES = ("embedded", "opa")
DEFAULT_OPA_URL = "http://127.0.0.1:8181"
#: Environment variables the CLI reads for the OPA engine (the library itself reads none).
OPA_URL_ENV = "FTPOLICY_OPA_URL"
OPA_TOKEN_ENV = "FTPOLICY_OPA_TOKEN"


def get_engine(
    name: Literal["embedded", "opa"] | str,
    *,
    opa_url: str | None = None,
    token: str | None = None,
    timeout: float = 10.0,
    strict_builtin_errors: bool = True,
) -> PolicyEngine:
    """The engine called ``name``: ``embedded`` (regopy) or ``opa`` (server at ``opa_url``).

    ``strict_builtin_errors`` (default on, fail closed): a built-in function that fails (a
    division by zero, a type error) makes the query an :class:`EvaluationError` on both
    engines instead of silently making the expression undefined. ``opa test`` runs without it.
    """
    if name == "embedded":
        from ftpolicy.policy.engines.embedded import EmbeddedEngine

        return EmbeddedEngine(strict_builtin_errors=strict_builtin_errors)
    if name == "opa":
        from ftpolicy.policy.engines.opa_server import OpaServerEngine

        return OpaServerEngine(
            opa_url or DEFAULT_OPA_URL,
            token=token,
            timeout=timeout,
            strict_builtin_errors=strict_builtin_errors,
        )
    raise UsageError(
        f"unknown policy engine {name!r}",
        hint=f"choose one of: {', '.join(ENGINE_NAMES)}",
        code="usage.engine",
    )
