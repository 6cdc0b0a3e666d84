"""Hidden Unicode: invisible characters, bidi controls, tag characters, homoglyph words.

Reported:

* ``bidi-control``: LRE/RLE/PDF/LRO/RLO (U+202A–202E) and LRI/RLI/FSI/PDI
  (U+2066–2069) anywhere; LRM/RLM/ALM only in text without right-to-left letters (in
  Hebrew or Arabic text they are normal);
* ``tag-characters``: U+E0000–U+E007F (invisible ASCII copies, used to smuggle text);
  variation selectors supplement (U+E0100–U+E01EF) are reported as ``zero-width``;
* ``zero-width``: ZWSP, ZWNJ, ZWJ, WJ, invisible operators, Mongolian vowel separator,
  soft hyphen and a BOM that is not at the very start of the text. A ZWJ between two
  emoji (family and profession sequences) and ZWNJ/ZWJ next to letters of scripts that
  need them (Arabic, Indic, Persian) are normal text and not reported;
* ``homoglyph``: a word that mixes Latin letters with Cyrillic or Greek ones
  (``pаypal`` with a Cyrillic ``а``), or a word written only with Cyrillic/Greek
  letters that look Latin inside otherwise Latin text.

Plain ASCII text is skipped with one ``str.isascii`` call, and other text without an
invisible character or a Cyrillic/Greek letter with two character-class searches
(:meth:`HiddenUnicodeDetector.worth`), so the detector costs next to nothing on most
records. Accented names, CJK, Cyrillic or Greek sentences and emoji are not findings.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ftpolicy.report import Finding
from ftpolicy.scan.dataset.interface import Record, TextField, excerpt, fingerprint, make_finding

CATEGORY = "hidden-unicode"

_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_MARKS = "\u200e\u200f\u061c"
_ZERO = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\u180e\u00ad\ufeff\u034f\u115f\u1160\u3164\uffa0"
_RTL = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
_JOINING_SCRIPTS = re.compile(
    r"[\u0600-\u06ff\u0750-\u077f\u0900-\u0dff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff]"
)
_CONFUSABLE_SCRIPTS = re.compile(r"[\u0370-\u03ff\u0400-\u052f\u1c80-\u1c8f\u1f00-\u1fff\ua640-\ua69f]")
_WORD = re.compile(r"[^\W\d_]{2,}", re.U)
# Cyrillic and Greek letters that render like Latin letters.
_LOOKALIKE = frozenset("аеорсухіјѕԁɡһӏԛԝвмнткАВЕКМНОРСТХІЈЅԌԚԜУαβεικνορτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ")


def _script(ch: str) -> str:
    o = ord(ch)
    if ch in "μµπΩΔΣθλ":  # units and maths symbols in Latin text
        return "other"
    if o < 0x250 or 0x1E00 <= o <= 0x1EFF:
        return "latin" if ch.isalpha() else "other"
    if 0x400 <= o <= 0x52F or 0x1C80 <= o <= 0x1C8F or 0x2DE0 <= o <= 0x2DFF or 0xA640 <= o <= 0xA69F:
        return "cyrillic"
    if 0x370 <= o <= 0x3FF or 0x1F00 <= o <= 0x1FFF:
        return "greek"
    return "other"


def _is_emoji(ch: str) -> bool:
    o = ord(ch)
    return (
        0x1F000 <= o <= 0x1FAFF
        or 0x2600 <= o <= 0x27BF
        or 0x2300 <= o <= 0x23FF
        or o in (0x2640, 0x2642, 0x2695, 0x2696, 0x2708, 0x2764, 0xFE0F, 0x200D)
        or 0x1F3FB <= o <= 0x1F3FF
    )


class HiddenUnicodeDetector:
    """Record detector for the ``hidden-unicode`` category."""

    category = CATEGORY

    def __init__(self, section: dict[str, Any], disabled: frozenset[str] = frozenset()) -> None:
        self.rules: dict[str, tuple[str, str]] = {}
        for r in section.get("rules", []) or []:
            if r.get("enabled", True) is False or f"{CATEGORY}/{r['id']}" in disabled:
                continue
            self.rules[str(r["id"])] = (str(r.get("description", r["id"])), str(r.get("severity", "medium")))
        extra = "".join(chr(int(str(h), 16)) for h in section.get("extra_invisible", []) or [])
        self.invisible = re.compile(
            f"[{re.escape(_BIDI + _MARKS + _ZERO + extra)}\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
        )
        self.min_letters = int(section.get("homoglyph_min_letters", 3))

    def _classify(self, text: str, i: int, has_rtl: bool = False) -> str | None:
        ch = text[i]
        o = ord(ch)
        if 0xE0000 <= o <= 0xE007F:
            return "tag-characters"
        if ch in _BIDI:
            return "bidi-control"
        if ch in _MARKS:
            return None if has_rtl else "bidi-control"
        if ch == "\ufeff" and i == 0:
            return None
        if ch == "\u200d":
            before = text[i - 1] if i > 0 else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            if before and after and _is_emoji(before) and _is_emoji(after):
                return None
        if ch in "\u200c\u200d":
            near = text[max(0, i - 1) : i + 2]
            if _JOINING_SCRIPTS.search(near):
                return None
        return "zero-width"

    def _may_report(self, text: str) -> bool:
        """Whether :meth:`scan` can report on ``text`` (exact): ASCII text hides nothing,
        and other text needs an invisible character or, for ``homoglyph``, a Cyrillic or
        Greek letter."""
        if text.isascii():
            return False
        if self.invisible.search(text) is not None:
            return True
        return "homoglyph" in self.rules and _CONFUSABLE_SCRIPTS.search(text) is not None

    def prescreen(self, texts: Iterable[str]) -> set[str]:
        """The texts :meth:`worth` keeps."""
        return set(filter(self._may_report, texts))

    def worth(self, fields: Sequence[TextField]) -> list[TextField]:
        """The fields :meth:`scan` can report on (an exact pre-check, see :meth:`_may_report`)."""
        may = self._may_report
        return [f for f in fields if may(f.text)]

    def scan(self, record: Record) -> Iterator[Finding]:
        """Hidden characters and homoglyph words in every field of ``record``."""
        for field in record.fields:
            text = field.text
            if text.isascii():
                continue
            reported: set[str] = set()
            has_rtl = bool(_RTL.search(text))
            for m in self.invisible.finditer(text):
                kind = self._classify(text, m.start(), has_rtl)
                if kind is None or kind not in self.rules or kind in reported:
                    continue
                reported.add(kind)
                count = sum(
                    1
                    for m2 in self.invisible.finditer(text)
                    if self._classify(text, m2.start(), has_rtl) == kind
                )
                desc, severity = self.rules[kind]
                name = unicodedata.name(m.group(), f"U+{ord(m.group()):04X}")
                yield make_finding(
                    CATEGORY,
                    kind,
                    f"{desc}: {count} × e.g. U+{ord(m.group()):04X} {name} in {field.path}",
                    record,
                    field,
                    severity=severity,
                    excerpt_text=_visible(excerpt(text, m.start(), m.end(), width=40)),
                    column=m.start() + 1,
                    hint="strip invisible and bidi control characters during preprocessing",
                    properties={
                        "codepoint": f"U+{ord(m.group()):04X}",
                        "count": count,
                        "fingerprint": fingerprint(f"{CATEGORY}/{kind}", record.file, _visible(text)),
                    },
                )
            if "homoglyph" in self.rules and _CONFUSABLE_SCRIPTS.search(text):
                yield from self._homoglyphs(record, field)

    def _homoglyphs(self, record: Record, field: Any) -> Iterator[Finding]:
        text = field.text
        words = _WORD.findall(text)
        latin_words = 0
        other_words = 0
        candidates: list[tuple[str, str]] = []
        for w in words:
            if w.isascii():  # letters only (see _WORD): a Latin word
                latin_words += 1
                continue
            scripts = {_script(c) for c in w if c.isalpha()}
            scripts.discard("other")
            if scripts == {"latin"}:
                latin_words += 1
            elif scripts and "latin" not in scripts:
                other_words += 1
                if len(w) >= self.min_letters and all(c in _LOOKALIKE for c in w):
                    candidates.append((w, "lookalike"))
            if "latin" in scripts and len(scripts) > 1 and len(w) >= self.min_letters:
                candidates.append((w, "mixed"))
        for word, kind in candidates:
            # an all-look-alike word counts only inside Latin text (not in a Cyrillic sentence)
            if kind == "lookalike" and not (latin_words >= 3 and other_words <= 2):
                continue
            start = text.find(word)
            desc, severity = self.rules["homoglyph"]
            skeleton = "".join(
                f"[U+{ord(c):04X}]" if _script(c) in ("cyrillic", "greek") else c for c in word
            )
            yield make_finding(
                CATEGORY,
                "homoglyph",
                f"{desc}: {skeleton!s} in {field.path}",
                record,
                field,
                severity=severity,
                excerpt_text=excerpt(text, start, start + len(word), width=40),
                column=start + 1,
                hint="replace look-alike letters with the intended script",
                properties={
                    "word": skeleton,
                    "fingerprint": fingerprint(f"{CATEGORY}/homoglyph", record.file, word),
                },
            )
            return


def _visible(s: str) -> str:
    out = []
    for ch in s:
        o = ord(ch)
        if ch in _BIDI or ch in _MARKS or ch in _ZERO or 0xE0000 <= o <= 0xE007F:
            out.append(f"<U+{o:04X}>")
        else:
            out.append(ch)
    return "".join(out)
