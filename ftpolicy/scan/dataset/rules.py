"""Rule packs: the data that drives the dataset detectors.

The default packs ship as package data (``ftpolicy/scan/dataset/rules/*.yaml``). A user
pack (``--rules FILE``, repeatable) extends or overrides them, section by section::

    schema_version: 1
    kind: scan-rules
    secret:
      rules:                       # merged by id: same id replaces, new id is added
        - id: acme-token
          pattern: 'acme_[A-Za-z0-9]{32}'
          keywords: [acme_]
        - id: jwt
          enabled: false           # switch a default rule off
      placeholders: ['internal-demo']   # lists other than `rules` are appended
    disable: [prompt-injection/role-reassign]   # switch rules off by full id

Scalars and mappings replace the default value. The merged pack is what the scan uses;
its digest (sha256 over its RFC 8785 canonical JSON) is recorded in the scan summary so
that a review can tell which rules judged the data.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ftpolicy._internal.canonical_json import digest as canonical_digest
from ftpolicy.errors import ConfigError, Location
from ftpolicy.manifest.yamlsafe import load_yaml
from ftpolicy.scan.dataset.screen import RuleScreen

SECTIONS = ("secret", "approval-bypass", "hidden-unicode", "prompt-injection", "contamination", "trigger")


@dataclass(frozen=True)
class RulePack:
    """The merged rule data, where it came from, and its digest."""

    data: dict[str, Any]
    sources: tuple[str, ...]
    digest: str

    def section(self, name: str) -> dict[str, Any]:
        """One category's rules and settings (empty when absent)."""
        value = self.data.get(name)
        return value if isinstance(value, dict) else {}

    def disabled(self) -> frozenset[str]:
        """Full rule ids switched off with ``disable``."""
        value = self.data.get("disable") or []
        return frozenset(str(v) for v in value)


def _default_pack_texts() -> list[tuple[str, bytes]]:
    folder = resources.files("ftpolicy.scan.dataset") / "rules"
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            out.append((f"(default)/{entry.name}", entry.read_bytes()))
    return out


def _parse(display: str, data: bytes) -> dict[str, Any]:
    doc, _ = load_yaml(display, data)
    if not isinstance(doc, dict):
        raise ConfigError(
            f"{display}: a rule pack must be a mapping",
            location=Location(display),
            hint="start with `schema_version: 1` and `kind: scan-rules`",
        )
    if doc.get("schema_version", 1) != 1 or doc.get("kind", "scan-rules") != "scan-rules":
        raise ConfigError(
            f"{display}: not a version-1 scan rule pack",
            location=Location(display),
            hint="set `schema_version: 1` and `kind: scan-rules`",
        )
    unknown = set(doc) - set(SECTIONS) - {"schema_version", "kind", "disable", "description"}
    if unknown:
        raise ConfigError(
            f"{display}: unknown section(s) {', '.join(sorted(unknown))}",
            location=Location(display),
            hint=f"sections are: {', '.join(SECTIONS)}, disable",
        )
    return doc


def _merge(base: dict[str, Any], extra: dict[str, Any], display: str) -> None:
    for name, value in extra.items():
        if name in ("schema_version", "kind", "description"):
            continue
        if name == "disable":
            if not isinstance(value, list):
                raise ConfigError(
                    f"{display}: `disable` must be a list of rule ids", location=Location(display)
                )
            base.setdefault("disable", []).extend(str(v) for v in value)
            continue
        if not isinstance(value, dict):
            raise ConfigError(f"{display}: section `{name}` must be a mapping", location=Location(display))
        section = base.setdefault(name, {})
        for key, item in value.items():
            if key == "rules":
                if not isinstance(item, list) or not all(isinstance(r, dict) and "id" in r for r in item):
                    raise ConfigError(
                        f"{display}: `{name}.rules` must be a list of mappings with an `id`",
                        location=Location(display),
                    )
                rules: list[dict[str, Any]] = section.setdefault("rules", [])
                index = {r["id"]: i for i, r in enumerate(rules)}
                for rule in item:
                    if rule["id"] in index:
                        if set(rule) <= {"id", "enabled"} or rule.get("enabled") is False:
                            merged = dict(rules[index[rule["id"]]])
                            merged.update(rule)
                            rules[index[rule["id"]]] = merged
                        else:
                            rules[index[rule["id"]]] = dict(rule)
                    else:
                        index[rule["id"]] = len(rules)
                        rules.append(dict(rule))
            elif isinstance(item, list) and isinstance(section.get(key), list):
                section[key] = section[key] + item
            else:
                section[key] = item


def _check_regexes(data: dict[str, Any]) -> None:
    for name in SECTIONS:
        section = data.get(name)
        if not isinstance(section, dict):
            continue
        for rule in section.get("rules", []) or []:
            for key in ("pattern", "context"):
                pattern = rule.get(key)
                if pattern is None:
                    continue
                try:
                    re.compile(pattern)
                except (re.error, TypeError) as exc:
                    raise ConfigError(
                        f"rule {name}/{rule.get('id')}: {key} is not a valid regular expression: {exc}",
                        hint="rule patterns use Python `re` syntax; quote them with single quotes in YAML",
                    ) from exc


_MISS: Any = object()


class KeywordIndex:
    """Which rules' keywords occur in a text, and where: one pass for all rules.

    Uses an Aho-Corasick automaton (``pyahocorasick``) when installed, so the cost is one
    linear scan of the text whatever the number of keywords; without it, falls back to
    ``str.find`` per keyword (same results, slower).
    """

    def __init__(
        self, groups: list[tuple[str, ...]], patterns: Sequence[re.Pattern[str]] | None = None
    ) -> None:
        # the rules' patterns, for the exact pre-screen (:class:`~.screen.RuleScreen`)
        self.patterns: tuple[re.Pattern[str], ...] | None = tuple(patterns) if patterns is not None else None
        self._screen: RuleScreen | None = None
        self.by_keyword: dict[str, list[int]] = {}
        for i, keywords in enumerate(groups):
            for k in keywords:
                self.by_keyword.setdefault(k, []).append(i)
        self._automaton: Any = None
        try:
            import ahocorasick
        except ImportError:  # pragma: no cover - declared dependency
            return
        if self.by_keyword:
            automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
            for k, rules in self.by_keyword.items():
                automaton.add_word(k, (len(k), tuple(rules)))
            automaton.make_automaton()
            self._automaton = automaton
        self._shared: SharedKeywordIndex | None = None
        self._slot = 0

    def hits_text(self, text: str) -> tuple[str, dict[int, list[tuple[int, int]]], frozenset[int] | None]:
        """``(text.lower(), hits, possible)``: the keyword hits of the rules that may match
        ``text``, and those rules (``None``: every rule may). Rules the pre-screen rules out
        get no hits and need not run. When the index is part of a
        :class:`SharedKeywordIndex`, one screen and one automaton pass serve every detector
        sharing it (computed once per field text)."""
        if self._shared is not None:
            return self._shared.lookup(text, self._slot)
        if self._screen is None and self.patterns is not None:
            self._screen = RuleScreen(self.patterns)
        possible = self._screen.candidates(text) if self._screen is not None else None
        low = text.lower()
        if possible is None:
            return low, self.hits(low), None
        if not possible:
            return low, {}, possible
        return low, {r: v for r, v in self.hits(low).items() if r in possible}, possible

    def hits(self, low: str) -> dict[int, list[tuple[int, int]]]:
        """Rule index -> ``(start, end)`` of every keyword occurrence in ``low``."""
        out: dict[int, list[tuple[int, int]]] = {}
        if self._automaton is not None:
            grouped: dict[tuple[int, tuple[int, ...]], list[int]] = {}
            for end, value in self._automaton.iter(low):
                ends = grouped.get(value)
                if ends is None:
                    grouped[value] = [end]
                else:
                    ends.append(end)
            for (length, rules), ends in grouped.items():
                spans = [(e + 1 - length, e + 1) for e in ends]
                for r in rules:
                    if r in out:
                        out[r].extend(spans)
                    else:
                        out[r] = list(spans)
            return out
        for k, owners in self.by_keyword.items():  # pragma: no cover - fallback
            i = low.find(k)
            while i >= 0:
                for r in owners:
                    out.setdefault(r, []).append((i, i + len(k)))
                i = low.find(k, i + 1)
        return out


# (text, its lower-cased copy, hits per slot, rules that may match per slot or None)
_Shared = tuple[str, str, list[dict[int, list[tuple[int, int]]]], tuple[frozenset[int] | None, ...] | None]


class SharedKeywordIndex:
    """One Aho-Corasick pass per field text for several :class:`KeywordIndex` instances.

    The record detectors each look for their own keywords in the same field texts; this
    joins their keywords into one automaton and remembers the results for the fields of
    the current record, so that the secret, approval-bypass and prompt-injection
    detectors share a single lower-casing and a single scan of every field. Each index
    gets exactly the hits its own :meth:`KeywordIndex.hits` would return (span lists may
    be in another order; callers sort them).
    """

    def __init__(self, indexes: list[KeywordIndex]) -> None:
        import ahocorasick

        targets: dict[str, list[tuple[int, int]]] = {}
        # a rule with keywords reports only where one of them occurs (see the detectors), so
        # a screen candidate whose keywords are all absent is ruled out too (below)
        keywords_of: dict[tuple[int, int], list[str]] = {}
        for slot, index in enumerate(indexes):
            for k, rules in index.by_keyword.items():
                targets.setdefault(k, []).extend((slot, r) for r in rules)
                for r in rules:
                    keywords_of.setdefault((slot, r), []).append(k)
        self._slots = len(indexes)
        self._automaton: Any = None
        if targets:
            automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
            for k, owners in targets.items():
                automaton.add_word(k, (len(k), tuple(owners)))
            automaton.make_automaton()
            self._automaton = automaton
        self._cache: dict[int, _Shared] = {}
        # one pre-screen over the patterns of every index that has them; global rule number
        # -> (slot, rule index)
        self._owners: list[tuple[int, int]] = []
        patterns: list[re.Pattern[str]] = []
        self._screened = tuple(index.patterns is not None for index in indexes)
        for slot, index in enumerate(indexes):
            for r, pattern in enumerate(index.patterns or ()):
                self._owners.append((slot, r))
                patterns.append(pattern)
        self._keywords = tuple(tuple(keywords_of.get(owner, ())) for owner in self._owners)
        self._screen = RuleScreen(patterns) if patterns else None
        self._last: tuple[str | None, frozenset[int] | None] = (None, None)
        self._pre: dict[str, frozenset[int] | None] = {}
        if self._screen is not None and not self._screen.active:
            self._screen = None
        self._empty: tuple[frozenset[int] | None, ...] = tuple(
            frozenset() if screened else None for screened in self._screened
        )
        for slot, index in enumerate(indexes):
            index._shared = self
            index._slot = slot

    def _possible(self, text: str) -> tuple[frozenset[int] | None, ...] | None:
        """Per slot, the rules that may match ``text`` (``None`` for a slot: all of them);
        ``None``: the screen cannot answer for this text."""
        if self._screen is None:
            return None
        last = self._last
        if last[0] is text:
            found = last[1]
        else:
            found = self._pre.get(text, _MISS)
            if found is _MISS:
                found = self._candidates(text)
        if found is None:
            return None
        if not found:
            return self._empty
        per: list[set[int]] = [set() for _ in range(self._slots)]
        owners = self._owners
        for g in found:
            slot, r = owners[g]
            per[slot].add(r)
        return tuple(
            frozenset(rules) if screened else None
            for rules, screened in zip(per, self._screened, strict=True)
        )

    def prescreen(self, texts: Iterable[str]) -> set[str]:
        """Screen ``texts`` now, one after the other (the screen's tables stay in the CPU
        caches), for the :meth:`quiet` calls that follow; return those not quiet."""
        if self._screen is None or not all(self._screened):
            return set(texts)
        pre: dict[str, frozenset[int] | None] = {}
        self._pre = pre
        new = list(dict.fromkeys(texts))
        loud = set()
        for t, found in zip(new, self._screen.candidates_many(new), strict=True):
            found = pre[t] = self._keyed(t, found)
            if found is None or found:
                loud.add(t)
        return loud

    def quiet(self, text: str) -> bool:
        """True when the screen rules out every rule of every screened index for ``text``
        (their detectors cannot report anything on it and need not look)."""
        if self._screen is None or not all(self._screened):
            return False
        found = self._pre.get(text, _MISS)
        if found is _MISS:
            found = self._candidates(text)
        self._last = (text, found)  # the lookups that follow for this text reuse the answer
        return found is not None and not found

    def _candidates(self, text: str) -> frozenset[int] | None:
        """The screen's candidates, less the keyed rules none of whose keywords occur."""
        assert self._screen is not None
        return self._keyed(text, self._screen.candidates(text))

    def _keyed(self, text: str, found: frozenset[int] | None) -> frozenset[int] | None:
        """``found`` (the screen's candidates for ``text``) less the keyed rules none of whose
        keywords occur in it."""
        if not found:
            return found
        low = text.lower()
        keywords = self._keywords
        kept = [g for g in found if not keywords[g] or any(k in low for k in keywords[g])]
        return found if len(kept) == len(found) else frozenset(kept)

    def lookup(
        self, text: str, slot: int
    ) -> tuple[str, dict[int, list[tuple[int, int]]], frozenset[int] | None]:
        """``(text.lower(), hits, possible)`` of the index in ``slot`` for ``text`` (see
        :meth:`KeywordIndex.hits_text`)."""
        entry = self._cache.get(id(text))
        if entry is None or entry[0] is not text:
            low = text.lower()
            possible = self._possible(text)
            out: list[dict[int, list[tuple[int, int]]]] = [{} for _ in range(self._slots)]
            wanted = possible is None or any(p is None or p for p in possible)
            if self._automaton is not None and wanted:
                for end, (length, owners) in self._automaton.iter(low):
                    span = (end + 1 - length, end + 1)
                    for s, r in owners:
                        if possible is not None:
                            allowed = possible[s]
                            if allowed is not None and r not in allowed:
                                continue
                        d = out[s]
                        lst = d.get(r)
                        if lst is None:
                            d[r] = [span]
                        else:
                            lst.append(span)
            if len(self._cache) >= 64:  # the fields of the current record are what is asked for
                self._cache.clear()
            # the entry holds the text, so its id cannot be reused while it is cached
            entry = self._cache[id(text)] = (text, low, out, possible)
        possible = entry[3]
        return entry[1], entry[2][slot], None if possible is None else possible[slot]


def share_keyword_indexes(detectors: list[Any]) -> SharedKeywordIndex | None:
    """Join the keyword indexes (attribute ``index``) of ``detectors`` into one pass."""
    indexes = [d.index for d in detectors if isinstance(getattr(d, "index", None), KeywordIndex)]
    if len(indexes) < 2:
        return None
    try:
        return SharedKeywordIndex(indexes)
    except ImportError:  # pragma: no cover - declared dependency
        return None


_INLINE_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")
# escapes that name a character by code (its case would not follow the lower-casing)
_CODED_CHAR = re.compile(r"\\(?:x|u|U|N|0)")
# a class range whose ends differ in case (``[A-f]``) means something else once lower-cased
_MIXED_RANGE = re.compile(r"[A-Z]-[a-z]|[a-z]-[A-Z]")
_SCOPED_FLAGS = re.compile(r"\(\?(?:[aiLmsux]+-?[aiLmsux]*|-[aiLmsux]+)[:)]")


# characters that IGNORECASE matching equates with ASCII letters although their lower-case
# form is not that letter (dotless i, long s, Kelvin sign, dotted capital I)
_FOLD_RISK = re.compile("[\u0130\u0131\u017f\u212a]")


def same_spans(text: str, low: str) -> bool:
    """Whether :func:`lowered` patterns on ``low`` (``text.lower()``) find exactly the spans
    the original case-insensitive patterns find on ``text``: always for ASCII text; for
    other text when lower-casing kept the length and no character that case-folds onto an
    ASCII letter in another way occurs."""
    return text.isascii() or (len(low) == len(text) and _FOLD_RISK.search(text) is None)


def lowered(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """A case-sensitive copy of a case-insensitive ``pattern`` for lower-cased ASCII text.

    Where :func:`same_spans` holds (any ASCII text, most other text),
    ``lowered(p).finditer(text.lower())`` yields matches at exactly the spans of
    ``p.finditer(text)``, and case-sensitive
    matching is several times faster than ``IGNORECASE`` in Python's regex engine. Letters
    outside escapes and group names are lower-cased. ``None`` when the pattern is not
    case-insensitive, or when lower-casing it could change what it means (non-ASCII
    letters with case, characters given by code, case-crossing class ranges, scoped flags).
    """
    if not pattern.flags & re.IGNORECASE:
        return None
    src = pattern.pattern
    if _CODED_CHAR.search(src) or _MIXED_RANGE.search(src):
        return None
    if not src.isascii() and any(c.lower() != c or c.upper() != c for c in src if not c.isascii()):
        return None  # a non-ASCII letter with case (caseless ones such as ’ or — are fine)
    lead = _INLINE_FLAGS.match(src)
    if lead:
        src = src[lead.end() :]
    if _SCOPED_FLAGS.search(src):
        return None
    out: list[str] = []
    i = 0
    n = len(src)
    while i < n:
        ch = src[i]
        if ch == "\\" and i + 1 < n:
            out.append(src[i : i + 2])
            i += 2
        elif src.startswith(("(?P<", "(?P="), i):
            j = src.find(">" if src[i + 3] == "<" else ")", i)
            if j < 0:
                return None
            out.append(src[i : j + 1])
            i = j + 1
        else:
            out.append(ch.lower())
            i += 1
    try:
        return re.compile("".join(out), pattern.flags & ~re.IGNORECASE)
    except re.error:  # pragma: no cover - the original compiled, so its lower-cased copy does
        return None


def merge_windows(spans: list[tuple[int, int]], n: int, before: int, after: int) -> list[tuple[int, int]]:
    """Merged windows ``[start - before, end + after]`` around keyword spans (clamped to ``n``)."""
    if not spans:
        return []
    spans = sorted(spans)
    merged = [(max(0, spans[0][0] - before), min(n, spans[0][1] + after))]
    for s, e in spans[1:]:
        lo, hi = max(0, s - before), min(n, e + after)
        if lo <= merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def keyword_windows(
    low: str, keywords: tuple[str, ...], before: int = 300, after: int = 300
) -> list[tuple[int, int]]:
    """Merged ``(start, end)`` windows of ``low`` around every occurrence of a keyword.

    Rules run their regular expression only inside these windows: every rule's match
    contains (or sits within ``before``/``after`` characters of) one of its keywords, so
    the result is the same as scanning the whole text, at a fraction of the cost on long
    records. An empty list means no keyword occurs.
    """
    hits: list[tuple[int, int]] = []
    n = len(low)
    for k in keywords:
        i = low.find(k)
        while i >= 0:
            hits.append((max(0, i - before), min(n, i + len(k) + after)))
            i = low.find(k, i + max(1, len(k)))
    if not hits:
        return []
    hits.sort()
    merged = [hits[0]]
    for lo, hi in hits[1:]:
        if lo <= merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def windowed_finditer(
    pattern: re.Pattern[str], text: str, windows: list[tuple[int, int]]
) -> list[re.Match[str]]:
    """Matches of ``pattern`` inside ``windows`` (de-duplicated, in text order)."""
    if len(windows) == 1 and windows[0] == (0, len(text)):
        return list(pattern.finditer(text))
    out: list[re.Match[str]] = []
    last_end = -1
    n = len(text)
    for lo, hi in windows:
        if hi < n:  # do not cut a token in two at the window edge
            j = text.find(" ", hi, hi + 256)
            hi = j if j >= 0 else min(n, hi + 256)
        for m in pattern.finditer(text, max(lo, last_end if last_end > lo else lo), hi):
            if m.start() >= last_end:
                out.append(m)
                last_end = m.end()
    return out


def load_rules(extra_files: list[Path] | tuple[Path, ...] = ()) -> RulePack:
    """The default packs merged with ``extra_files`` (in order)."""
    data: dict[str, Any] = {}
    sources: list[str] = []
    for display, text in _default_pack_texts():
        _merge(data, _parse(display, text), display)
        sources.append(display)
    for path in extra_files:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"{path}: cannot read rule pack: {exc.strerror}",
                location=Location(str(path)),
                hint="pass an existing YAML file to --rules",
            ) from exc
        _merge(data, _parse(str(path), raw), str(path))
        sources.append(str(path))
    _check_regexes(data)
    return RulePack(data=copy.deepcopy(data), sources=tuple(sources), digest=canonical_digest(data))
