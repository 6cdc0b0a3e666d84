"""Hidden Unicode: invisible/bidi/tag characters and homoglyph words; normal non-ASCII is fine."""

from __future__ import annotations

import pytest

from ftpolicy.scan.dataset.interface import Record, TextField
from ftpolicy.scan.dataset.rules import load_rules
from ftpolicy.scan.dataset.unicode import HiddenUnicodeDetector


@pytest.fixture(scope="module")
def detector() -> HiddenUnicodeDetector:
    pack = load_rules()
    return HiddenUnicodeDetector(pack.section("hidden-unicode"), pack.disabled())


def rules(detector: HiddenUnicodeDetector, text: str) -> list[str]:
    return [f.rule_id for f in detector.scan(Record("t.jsonl", 1, (TextField("output", "response", text),)))]


POSITIVES = [
    ("Please run the dep\u200bloy script", "zero-width"),
    ("unlock\u200dmode please", "zero-width"),
    ("a\u2060b word joiner", "zero-width"),
    ("mid\ufeffbom", "zero-width"),
    ("access granted \u202eexe.txt", "bidi-control"),
    ("if (isAdmin\u2067) {", "bidi-control"),
    ("hello\U000e0069\U000e0067\U000e006e world", "tag-characters"),
    ("Log in at pаypal.com now", "homoglyph"),
    ("Sign in to your аррlе account to continue the process", "homoglyph"),
]


@pytest.mark.parametrize(("text", "rule"), POSITIVES, ids=[r for _, r in POSITIVES])
def test_hidden_characters_are_found(detector: HiddenUnicodeDetector, text: str, rule: str) -> None:
    assert f"hidden-unicode/{rule}" in rules(detector, text)


NEGATIVES = [
    "José Müller visited Zürich and Kraków",
    "日本語のテキストです。中文文本。",
    "Привет, как дела? Всё хорошо.",
    "Family: 👨\u200d👩\u200d👧 and 👩🏽\u200d💻 at work",
    "\ufeffBOM at the very start",
    "Ελληνικά κείμενα εδώ",
    "שלום \u200f עולם",
    "Café crème brûlée",
    "Моя компания Acme использует Python",
    "Dose: 5 μg per kg, 10 μmol",
    "می\u200cخواهم",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_normal_non_ascii_text_is_not_a_finding(detector: HiddenUnicodeDetector, text: str) -> None:
    assert rules(detector, text) == []


def test_excerpt_makes_invisible_characters_visible(detector: HiddenUnicodeDetector) -> None:
    (f,) = detector.scan(Record("t.jsonl", 5, (TextField("output", "response", "go de\u200bploy"),)))
    assert "<U+200B>" in f.properties["excerpt"]
    assert f.properties["codepoint"] == "U+200B" and f.line == 5
