"""Fixtures of the Git layer tests."""

from helpers.gitrepo import scratch_repo

__all__ = ["scratch_repo"]
