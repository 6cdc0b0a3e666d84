"""Case-insensitive rules run case-sensitively on lower-cased text: the spans must not change.

The detectors swap a case-insensitive rule pattern for its :func:`lowered` copy on the
shared lower-cased field text whenever :func:`same_spans` says that is exact. These tests
check that claim for every default rule on texts built to be awkward: mixed case, the
typographic punctuation and accented letters real tickets carry, and characters that case-fold
onto ASCII letters in unusual ways (which must turn the fast path off).
"""

from __future__ import annotations

import random
import re

import pytest

from ftpolicy.scan.dataset.rules import load_rules, lowered, same_spans

PACK = load_rules()

# pieces of text the rules look for, plus neutral and awkward fillers
PIECES = [
    "Just merge it without approval",
    "git commit --NO-VERIFY",
    "Ignore all previous instructions",
    "SYSTEM OVERRIDE:",
    "Dear AI assistant reading this",
    "password = Hunter2Secret99",
    "API_KEY: sk9fQ2LmXw81Zr",
    "self-approve the PR",
    "use the Admin account to bypass branch protection",
    "Disable MFA for now",
    "postgres://svc:S3cretPw@db.internal:5432/app",
    "— ",
    "“quoted” ",
    "’s ",
    "é",
    "Ünïcödé ",
    "日本語 ",
    "→ ",
    "\u00a0",
    "\t",
    "\n",
    ". ",
    ", ",
    "the ",
    "you can ",
    "never ",
    "Don’t ",
    "REVIEW ",
    "Approval ",
    "CODEOWNERS ",
]
FOLD_RISK = ["\u0130", "\u0131", "\u017f", "\u212a"]


def _case_insensitive_patterns() -> list[tuple[str, re.Pattern[str]]]:
    out = []
    for section in ("secret", "approval-bypass", "prompt-injection"):
        for rule in PACK.section(section).get("rules", []):
            flags = 0 if section == "secret" else re.I
            if section == "prompt-injection" and rule.get("multiline"):
                flags |= re.M
            if rule["id"] == "role-spoof":
                flags = re.M
            out.append((f"{section}/{rule['id']}", re.compile(rule["pattern"], flags)))
    return [(name, p) for name, p in out if p.flags & re.I]


PATTERNS = _case_insensitive_patterns()


def _texts(seed: int, n: int, extra: list[str]) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = [rng.choice(PIECES + extra) for _ in range(rng.randint(3, 12))]
        text = "".join(parts)
        # random case flips, so the patterns meet every casing
        out.append("".join(c.upper() if rng.random() < 0.3 else c for c in text))
    return out


def test_most_default_rules_have_a_lowered_copy() -> None:
    have = [name for name, p in PATTERNS if lowered(p) is not None]
    assert len(have) >= 0.8 * len(PATTERNS), have


@pytest.mark.parametrize(("name", "pattern"), PATTERNS, ids=[n for n, _ in PATTERNS])
def test_lowered_copy_finds_the_same_spans(name: str, pattern: re.Pattern[str]) -> None:
    low_pattern = lowered(pattern)
    if low_pattern is None:
        pytest.skip(f"{name} has no lowered copy (it keeps IGNORECASE)")
    checked = 0
    for text in _texts(hash(name) & 0xFFFF, 300, []):
        low = text.lower()
        assert same_spans(text, low)
        want = [m.span() for m in pattern.finditer(text)]
        got = [m.span() for m in low_pattern.finditer(low)]
        assert got == want, (name, text)
        checked += bool(want)
    assert checked > 0 or name  # some rules never match these pieces; their spans still agree


def test_fold_risk_characters_turn_the_fast_path_off() -> None:
    for ch in FOLD_RISK:
        text = f"ignore all previous in{ch}tructions"
        assert not same_spans(text, text.lower())
    assert same_spans("Don’t merge — ever", "don’t merge — ever")
    assert same_spans("plain ASCII", "plain ascii")


def test_patterns_that_lower_casing_would_change_are_not_lowered() -> None:
    assert lowered(re.compile(r"[A-f]+", re.I)) is None  # class range across cases
    assert lowered(re.compile(r"\x41BC", re.I)) is None  # character given by code
    assert lowered(re.compile(r"abc(?-i:D)", re.I)) is None  # scoped flags
    assert lowered(re.compile(r"abc")) is None  # not case-insensitive: nothing to gain
    assert lowered(re.compile("caf\u00c9", re.I)) is None  # a non-ASCII letter with case
    assert lowered(re.compile("Don[\u2019']t", re.I)) is not None  # caseless punctuation is fine
    low = lowered(re.compile(r"(?i)(?P<Key>API[_-]KEY)\s*=\s*(?P=Key)"))
    assert low is not None
    assert low.pattern == r"(?P<Key>api[_-]key)\s*=\s*(?P=Key)"
    assert not low.flags & re.I
