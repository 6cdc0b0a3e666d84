"""Locate the JSON Schemas and the default Rego policy library at run time.

In a wheel they are package data under ``ftpolicy/_data/``; in a source checkout
(editable install) they are the top-level ``schemas/`` and ``policies/`` folders.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ftpolicy.errors import ConfigError

_PACKAGE_DIR = Path(__file__).resolve().parent


def _locate(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        f"the bundled '{name}' folder was not found next to the ftpolicy package",
        hint="reinstall ftpolicy (pip install --force-reinstall ftpolicy); "
        "in a checkout, run from the repository with `pip install -e .`",
        code="install.broken",
    )


@cache
def schemas_dir() -> Path:
    """Folder holding the bundled ``*.schema.json`` files."""
    return _locate("schemas")


@cache
def policies_dir() -> Path:
    """Folder holding the bundled default Rego policy library."""
    return _locate("policies")
