"""Prompt injection: instructions aimed at the model hidden inside content.

Rules (regular expressions in the ``prompt-injection`` rule pack) find override
instructions ("ignore previous instructions"), role reassignment ("you are now DAN"),
injected "new instructions" blocks and notes addressed to an AI reader, requests to hide
things from the user, chat-template role headers inside content (``<|im_start|>system``,
``[INST]``, ``### System:``) and exfiltration links (a markdown or HTML image, or a link
built from conversation data, pointing at an external host with data in the query
string; badge and avatar hosts are allowed).

Discussion of prompt injection as a topic is not a finding: a match is skipped when its
sentence carries a ``discussion`` cue ("prompt injection", "for example", "attackers",
"detect", "what is" ...), or when the matched text is quoted and the field discusses the
topic. Injected instructions in prompts (a ticket body, pasted tool output) are
``medium``; in responses (the model trained to emit them) ``high``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ftpolicy.report import Finding
from ftpolicy.scan.dataset.approval import sentence_at, sentences
from ftpolicy.scan.dataset.interface import Record, excerpt, fingerprint, make_finding
from ftpolicy.scan.dataset.rules import KeywordIndex, lowered, merge_windows, same_spans, windowed_finditer

CATEGORY = "prompt-injection"
_LOWER = {"critical": "high", "high": "medium", "medium": "low", "low": "low"}
_QUOTES = "\"'`“”‘’«»"


@dataclass(frozen=True)
class _Rule:
    rule_id: str
    description: str
    pattern: re.Pattern[str]
    severity: str
    exfiltration: bool
    keywords: tuple[str, ...] = ()
    low: re.Pattern[str] | None = None  # ``lowered(pattern)``, run on lower-cased ASCII text


def _group_text(text: str, m: re.Match[str], name: str) -> str | None:
    """The text of group ``name`` as written in ``text`` (``m`` may have matched its
    lower-cased copy); ``None`` when the pattern has no such group or it did not take part."""
    if name not in m.re.groupindex or m.start(name) < 0:
        return None
    return text[m.start(name) : m.end(name)]


class PromptInjectionDetector:
    """Record detector for the ``prompt-injection`` category."""

    category = CATEGORY

    def __init__(self, section: dict[str, Any], disabled: frozenset[str] = frozenset()) -> None:
        self.rules = []
        for r in section.get("rules", []) or []:
            if r.get("enabled", True) is False or f"{CATEGORY}/{r['id']}" in disabled:
                continue
            flags = re.I | (re.M if r.get("multiline") else 0)
            if r["id"] == "role-spoof":
                flags = re.M  # header case matters: "System:" vs "system:" in prose
            pattern = re.compile(r["pattern"], flags)
            self.rules.append(
                _Rule(
                    str(r["id"]),
                    str(r.get("description", r["id"])),
                    pattern,
                    str(r.get("severity", "high")),
                    bool(r.get("exfiltration", False)),
                    tuple(str(k).lower() for k in r.get("keywords", []) or []),
                    lowered(pattern),
                )
            )
        self.index = KeywordIndex([r.keywords for r in self.rules], [r.pattern for r in self.rules])
        # rules without keywords run on every field; the others only where a keyword occurs
        self._unkeyed = frozenset(i for i, r in enumerate(self.rules) if not r.keywords)
        cues = section.get("discussion", []) or []
        self.discussion = re.compile("|".join(f"(?:{c})" for c in cues), re.I) if cues else None
        reporting = section.get("reporting")
        self.reporting = re.compile(str(reporting), re.I) if reporting else None
        self._field_discusses: bool | None = None
        self.allow_hosts = frozenset(
            str(h).lower() for h in section.get("exfiltration_allow_hosts", []) or []
        )

    def _quoted(self, text: str, start: int, end: int) -> bool:
        before = text[max(0, start - 3) : start]
        after = text[end : end + 3]
        if any(q in before for q in _QUOTES) and any(q in after for q in _QUOTES):
            return True
        # inside a quoted span on the same line
        line_start = max(text.rfind("\n", 0, start) + 1, start - 400)
        prefix = text[line_start:start]
        return sum(prefix.count(q) for q in '"`“') % 2 == 1

    def _discussed(
        self, text: str, start: int, end: int, spans: list[tuple[int, int]], starts: list[int]
    ) -> bool:
        if self.discussion is None:
            return False
        sent = sentence_at(spans, starts, start) or (start, end)
        blanked = text[sent[0] : start] + " " * (end - start) + text[end : sent[1]]
        if self.discussion.search(blanked):
            return True
        if self.reporting is not None and self._quoted(text, start, end):
            lead = text[max(sent[0], start - 40) : start].rstrip(_QUOTES + " ")
            if self.reporting.search(lead):
                return True
        if not self._quoted(text, start, end):
            return False
        if self._field_discusses is None:
            self._field_discusses = bool(self.discussion.search(text))
        return self._field_discusses

    def _external(self, url: str | None) -> bool:
        if not url:
            return False
        try:
            host = (urlsplit(url).hostname or "").lower()
        except ValueError:
            return True
        if not host:
            return False
        return not any(host == h or host.endswith("." + h) for h in self.allow_hosts)

    def scan(self, record: Record) -> Iterator[Finding]:
        """Injected instructions in every field of ``record``."""
        for field in record.fields:
            text = field.text
            low, hits, possible = self.index.hits_text(text)
            same = same_spans(text, low)
            self._field_discusses = None
            spans: list[tuple[int, int]] | None = None
            starts: list[int] = []
            unkeyed = self._unkeyed if possible is None else self._unkeyed & possible
            todo = sorted(unkeyed.union(hits)) if unkeyed else sorted(hits)
            for i in todo:  # in rule order
                rule = self.rules[i]
                # the lower-cased copy gives the same spans (see same_spans), faster
                pattern, subject = (rule.low, low) if same and rule.low is not None else (rule.pattern, text)
                if not rule.keywords:
                    cands = list(pattern.finditer(subject))
                else:
                    where = hits.get(i)
                    if where is None:
                        continue
                    cands = windowed_finditer(pattern, subject, merge_windows(where, len(text), 130, 130))
                m = None
                for cand in cands:
                    if rule.exfiltration:
                        url = _group_text(text, cand, "url") or _group_text(text, cand, "url2")
                        if url is not None and not self._external(url):
                            continue
                    if spans is None:
                        spans = sentences(text)
                        starts = [a for a, _ in spans]
                    if self._discussed(text, cand.start(), cand.end(), spans, starts):
                        continue
                    m = cand
                    break
                if m is None:
                    continue
                severity = rule.severity if field.role == "response" else _LOWER.get(rule.severity, "low")
                yield make_finding(
                    CATEGORY,
                    rule.rule_id,
                    f"{rule.description} in {field.role} ({field.path})",
                    record,
                    field,
                    severity=severity,
                    excerpt_text=excerpt(text, m.start(), m.end(), width=50),
                    column=m.start() + 1,
                    hint="remove the injected instruction from the record (or the record itself)",
                    properties={
                        "fingerprint": fingerprint(
                            f"{CATEGORY}/{rule.rule_id}", record.file, text[m.start() : m.end()].lower()
                        )
                    },
                )
