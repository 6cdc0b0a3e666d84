"""The scanner's optional C extension (``_native``, built by ``hatch_build.py``).

:func:`native` returns the module, or ``None`` when it was not built (no C compiler at
install time), when ``FTPOLICY_NO_NATIVE`` is set (the differential tests compare both
paths), or when it disagrees with the pure-Python code on the sample texts each caller
checks at import. The scan gives the same findings either way; only its speed differs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType

__all__ = ["checked", "native"]


def native() -> ModuleType | None:
    """The ``_native`` extension module, or ``None`` (pure-Python code is used)."""
    if os.environ.get("FTPOLICY_NO_NATIVE"):
        return None
    try:
        from ftpolicy.scan.dataset import _native  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _native


def checked(agrees: Callable[[ModuleType], bool]) -> ModuleType | None:
    """:func:`native`, when ``agrees(module)`` holds: the caller's comparison of the C
    functions it uses with its own Python code on sample inputs. A module that disagrees,
    or raises (a broken build), is not used: ``None``."""
    mod = native()
    if mod is None:
        return None
    try:
        return mod if agrees(mod) else None
    except Exception:
        return None
