"""Helpers shared by the check tests."""

from __future__ import annotations

from helpers.gitrepo import ScratchRepo


def edit(repo: ScratchRepo, rel: str, old: str, new: str, count: int = 1) -> str:
    """The text of ``rel`` with ``old`` replaced by ``new`` (which must occur)."""
    text = repo.read(rel).decode("utf-8")
    assert old in text, f"{old!r} not in {rel}"
    return text.replace(old, new, count)
