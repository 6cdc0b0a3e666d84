"""The policy engine interface: evaluate a reference in a :class:`PolicySet` against an input.

Every engine fails closed. ``query`` returns the JSON value of the reference or raises
:class:`ftpolicy.errors.EvaluationError` (exit code 3) with a ``code`` that says why:

============================  ===================================================================
``policy.compile``            a module does not parse or compile (message names file:line)
``policy.v0-syntax``          Rego v0 syntax, refused by OPA 1.x (and so by both engines)
``policy.unsupported-builtin`` a built-in the engine cannot evaluate (``http.send`` on embedded...)
``policy.unsupported``        a construct the embedded engine mis-evaluates (``with input as``)
``policy.undefined``          the reference has no value (:class:`UndefinedResult`)
``policy.evaluation``         evaluation failed (conflicting values, a strict built-in error...)
``policy.unreachable``        the OPA server could not be reached or timed out
``policy.rejected``           the OPA server refused a request (authorisation, bad policy...)
============================  ===================================================================

A half result is never returned.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any

from ftpolicy.errors import EvaluationError
from ftpolicy.policy.engines.policyset import PolicySet

__all__ = ["EvaluationError", "PolicyEngine", "UndefinedResult", "query_path"]

_QUERY = re.compile(r"data(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


class UndefinedResult(EvaluationError):
    """The queried reference is undefined (no rule produced a value): never a pass."""

    code = "policy.undefined"


def query_path(query: str) -> list[str]:
    """The segments of a ``data.a.b.c`` reference (``["a", "b", "c"]``); other queries are refused."""
    if not _QUERY.fullmatch(query):
        raise EvaluationError(
            f"unsupported query {query!r}",
            hint="engines evaluate a plain reference such as data.ftpolicy.main.decision",
            code="policy.query",
        )
    return query.split(".")[1:]


class PolicyEngine(ABC):
    """Evaluates Rego references; implementations: ``embedded`` (regopy) and ``opa`` (OPA server)."""

    #: Short engine name, as chosen with ``--engine``.
    name: str = ""

    @abstractmethod
    def query(self, policy_set: PolicySet, query: str, input: Any = None) -> Any:
        """The JSON value of ``query`` (e.g. ``data.ftpolicy.main.decision``) for ``input``.

        ``input`` is any JSON value; ``None`` evaluates with no input document at all (as
        ``opa test`` does). Raises :class:`EvaluationError` rather than return a partial or
        undefined result.
        """

    def prepare(self, policy_set: PolicySet, queries: list[str]) -> None:  # noqa: B027 - optional hook
        """Compile or upload ``policy_set`` ahead of ``queries`` (optional; makes the first query cheap).

        Compilation errors are raised here, as from :meth:`query`.
        """

    @abstractmethod
    def version(self) -> str:
        """A human-readable engine version, e.g. ``regopy 1.5.2`` or ``OPA 1.22.3``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (HTTP sessions); the engine must not be used afterwards."""
