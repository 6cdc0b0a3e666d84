"""Policy evaluation: the Rego policy set, the engines that evaluate it, bundles and Rego unit tests.

The check's own parts are importable from here (loaded on first use, so importing
``ftpolicy.policy.engines`` stays cheap):

* :func:`build_input` / :class:`PolicyInput` (``ftpolicy.policy.input``): the versioned input
  document ``ftpolicy/policy-input/v1`` built from verified facts;
* :class:`Decision`, :class:`Violation`, :class:`Waiver`, :func:`parse_decision`,
  ``DECISION_QUERY`` (``ftpolicy.policy.decision``): what ``data.ftpolicy.main.decision`` says.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "INPUT_SCHEMA": "ftpolicy.policy.input",
    "PolicyInput": "ftpolicy.policy.input",
    "build_input": "ftpolicy.policy.input",
    "DECISION_QUERY": "ftpolicy.policy.decision",
    "Decision": "ftpolicy.policy.decision",
    "Violation": "ftpolicy.policy.decision",
    "Waiver": "ftpolicy.policy.decision",
    "parse_decision": "ftpolicy.policy.decision",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ftpolicy.policy' has no attribute {name!r}")
