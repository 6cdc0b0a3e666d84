"""Approval bypass: responses that recommend or normalise skipping review controls.

Only the response side is judged (what the model is trained to say). A rule pattern finds
an *action* (merge without approval, ``--no-verify``, force-push to main, disable branch
protection, self-approve, admin override, skip the CAB, disable MFA, drop CODEOWNERS,
``[skip ci]``, switch off scanners). Whether the sentence *recommends* it is decided per
sentence, with the matched words blanked out so that the action's own words are not
mistaken for cues:

* a negation or warning cue in the sentence (never, don't, must not, not allowed,
  instead of, against policy, ...) clears it; so does a short warning sentence right
  after it ("Don't do this.");
* otherwise it is a finding when a recommendation cue is present (you, just, can, it's
  fine, no need, ...) or the sentence starts with the action (an imperative).

This keeps warnings, policy statements and neutral descriptions ("the CAB meets on
Tuesdays", "branch protection requires two approvals") out of the findings.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ftpolicy.report import Finding
from ftpolicy.scan.dataset.interface import Record, excerpt, fingerprint, make_finding
from ftpolicy.scan.dataset.rules import KeywordIndex, lowered, merge_windows, same_spans, windowed_finditer

CATEGORY = "approval-bypass"

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+|(?<=:)\s*\n|;\s+")
_PURPOSE = re.compile(
    r"(?i)\b(?:so|so that|because|since|which|then|or else|otherwise"
    r"|to avoid|to make sure|to ensure|and the|even though|even if|although|though|as long as"
    r"|instead of|rather than)\b"
)
_LEAD_IN = re.compile(r"^[\s*\-•>\d.)`\"']*(?:(?:[^\W\d_][\w'’]*[ \t]*){1,3}[:,!—–.-]+)?[\s`\"']*$")
_BACKREF = re.compile(
    r"(?i)^\W*(?:(?:please\s+)?(?:don[’']t|do not|never) do (?:this|that|it)|(?:this|that|it)\b[^.!?]{0,60}"
    r"\b(?:violat\w*|not allowed|against|prohibited|forbidden|dangerous|risky|bad idea|not (?:ok|okay|"
    r"acceptable|recommended))|but (?:don[’']t|do not|never))"
)


@dataclass(frozen=True)
class _Rule:
    rule_id: str
    description: str
    pattern: re.Pattern[str]
    severity: str
    keywords: tuple[str, ...] = ()
    assertive: bool = False
    low: re.Pattern[str] | None = None  # ``lowered(pattern)``, run on lower-cased ASCII text


def _union(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I | re.M)


#: A "sentence" longer than this on either side of a match is clamped (text without
#: punctuation must not make each match cost the whole field).
SENTENCE_REACH = 400
#: At most this many findings per field and detector (the record is flagged either way).
MAX_PER_FIELD = 10


def sentence_at(spans: list[tuple[int, int]], starts: list[int], pos: int) -> tuple[int, int] | None:
    """The (clamped) sentence span containing ``pos``; ``starts`` are the spans' starts."""
    i = bisect.bisect_right(starts, pos) - 1
    if i < 0 or not spans[i][0] <= pos < spans[i][1]:
        return None
    s, e = spans[i]
    return max(s, pos - SENTENCE_REACH), min(e, pos + SENTENCE_REACH)


def sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` spans of the sentences (and list items / lines) of ``text``."""
    spans = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() > pos:
            spans.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    return spans


class ApprovalBypassDetector:
    """Record detector for the ``approval-bypass`` category."""

    category = CATEGORY

    def __init__(self, section: dict[str, Any], disabled: frozenset[str] = frozenset()) -> None:
        self.rules = [
            _Rule(
                str(r["id"]),
                str(r.get("description", r["id"])),
                re.compile(r["pattern"], re.I),
                str(r.get("severity", "high")),
                tuple(str(k).lower() for k in r.get("keywords", []) or []),
                bool(r.get("assertive", False)),
                lowered(re.compile(r["pattern"], re.I)),
            )
            for r in section.get("rules", []) or []
            if r.get("enabled", True) is not False and f"{CATEGORY}/{r['id']}" not in disabled
        ]
        self.index = KeywordIndex([r.keywords for r in self.rules], [r.pattern for r in self.rules])
        # rules without keywords run on every field; the others only where a keyword occurs
        self._unkeyed = frozenset(i for i, r in enumerate(self.rules) if not r.keywords)
        self.negation = _union(list(section.get("negations", []) or []))
        self.weak_negation = _union(list(section.get("weak_negations", []) or []))
        self.recommendation = _union(list(section.get("recommendations", []) or []))
        self.roles = frozenset(section.get("roles", ["response"]) or ["response"])

    def judge(
        self,
        text: str,
        start: int,
        end: int,
        spans: list[tuple[int, int]] | None = None,
        assertive: bool = False,
        starts: list[int] | None = None,
    ) -> bool:
        """True when the action at ``text[start:end]`` is recommended, not warned against."""
        spans = spans if spans is not None else sentences(text)
        starts = starts if starts is not None else [a for a, _ in spans]
        here = sentence_at(spans, starts, start)
        if here is None:
            return False
        s, e = here
        idx = bisect.bisect_right(starts, start) - 1
        end = min(end, e)
        blanked = text[s:start] + " " * (end - start) + text[end:e]
        if self.negation is not None and self.negation.search(blanked):
            return False
        if self.weak_negation is not None:
            rel_end = end - s
            cut = _PURPOSE.search(blanked, rel_end)
            if self.weak_negation.search(blanked[: cut.start() if cut else len(blanked)]):
                return False
        if idx + 1 < len(spans):
            ns, ne = spans[idx + 1]
            nxt = text[ns:ne]
            if len(nxt) <= 120 and _BACKREF.search(nxt):
                return False
        if assertive or _LEAD_IN.match(text[s:start]):
            return True  # the sentence starts with the action (an imperative), maybe after "Sure!"
        return self.recommendation is None or bool(self.recommendation.search(blanked))

    def scan(self, record: Record) -> Iterator[Finding]:
        """Approval-bypass advice in the response fields of ``record``."""
        for field in record.fields:
            if field.role not in self.roles:
                continue
            text = field.text
            low, hits, possible = self.index.hits_text(text)
            same = same_spans(text, low)
            spans: list[tuple[int, int]] | None = None
            starts: list[int] = []
            seen: list[tuple[int, int]] = []
            unkeyed = self._unkeyed if possible is None else self._unkeyed & possible
            todo = sorted(unkeyed.union(hits)) if unkeyed else sorted(hits)
            for i in todo:  # in rule order
                rule = self.rules[i]
                if len(seen) >= MAX_PER_FIELD:
                    break
                # the lower-cased copy gives the same spans (see same_spans), faster
                pattern, subject = (rule.low, low) if same and rule.low is not None else (rule.pattern, text)
                if not rule.keywords:
                    matches = list(pattern.finditer(subject))
                else:
                    where = hits.get(i)
                    if where is None:
                        continue
                    matches = windowed_finditer(pattern, subject, merge_windows(where, len(text), 130, 130))
                for m in matches:
                    if len(seen) >= MAX_PER_FIELD:
                        break
                    start, end = m.span()
                    if any(s <= start < e for s, e in seen):
                        continue
                    if spans is None:
                        spans = sentences(text)
                        starts = [a for a, _ in spans]
                    if not self.judge(text, start, end, spans, rule.assertive, starts):
                        continue
                    sent = sentence_at(spans, starts, start) or (start, end)
                    seen.append(sent)
                    yield make_finding(
                        CATEGORY,
                        rule.rule_id,
                        f"response recommends {rule.description} ({field.path})",
                        record,
                        field,
                        severity=rule.severity,
                        excerpt_text=excerpt(text, start, end, width=60),
                        column=start + 1,
                        hint="remove or rewrite the record: training on it teaches the model to advise "
                        "bypassing review controls",
                        properties={
                            "fingerprint": fingerprint(
                                f"{CATEGORY}/{rule.rule_id}",
                                record.file,
                                " ".join(text[slice(*sent)].split()),
                            )
                        },
                    )
