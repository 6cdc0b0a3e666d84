"""Shared test set-up: a Git identity for the repositories tests create."""

from __future__ import annotations

import os

for _var, _value in {
    "GIT_AUTHOR_NAME": "ftpolicy tests",
    "GIT_AUTHOR_EMAIL": "tests@ftpolicy.invalid",
    "GIT_COMMITTER_NAME": "ftpolicy tests",
    "GIT_COMMITTER_EMAIL": "tests@ftpolicy.invalid",
}.items():
    os.environ.setdefault(_var, _value)
