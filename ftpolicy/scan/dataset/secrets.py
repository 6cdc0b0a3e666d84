"""Secrets in training text: provider formats, entropy and context.

Every rule in the ``secret`` section of the rule pack is a regular expression with a
cheap keyword prefilter. A candidate value must also pass the rule's entropy floor,
character-class mix and context requirement, and must not be a placeholder or a
documented example (``AKIAIOSFODNN7EXAMPLE``, ``<your-token>``, ``${VAR}``, ``****``,
``changeme``, ...). The generic ``password=`` / ``api_key:`` rule additionally skips
values that are code (identifiers, environment look-ups, URLs, paths), hashes next to
hash-like keys, and UUIDs, which is where generic secret scanners spend most of their
false positives.

A secret in a response is ``high`` (the poisoning pattern: a model trained to echo
credentials); the same secret in a prompt is one level lower (still sensitive data).
Evidence excerpts never contain the value: only a short prefix survives redaction.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from ftpolicy.report import Finding
from ftpolicy.scan.dataset.interface import Record, TextField, fingerprint, make_finding, redact
from ftpolicy.scan.dataset.rules import KeywordIndex, lowered, merge_windows, same_spans, windowed_finditer

CATEGORY = "secret"
#: At most this many secrets are reported per field (the record is flagged either way).
MAX_PER_FIELD = 20
LOWER_SEVERITY = {"critical": "high", "high": "medium", "medium": "low", "low": "low", "info": "info"}

_GROUPS = ("secret", "secret2", "secret3", "secret4")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_HASH_KEY = re.compile(r"(?i)hash|digest|checksum|sha\d*|md5|fingerprint|commit|etag|integrity|nonce|salt")
_DOTTED_IDENT = re.compile(r"^[A-Za-z_$][\w$]*(?:(?:\.|::|->)[A-Za-z_$][\w$]*)+$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
_CAMEL = re.compile(r"^[a-z]+(?:[A-Z][a-z]+)+$")
_CODEY_VALUE = re.compile(
    r"(?i)^(?:none|null|nil|true|false|undefined|required|optional|string|str|bytes|int)$"
)
_KEY_PLACEHOLDER = re.compile(r"(?i)example|sample|dummy|fake|mock|placeholder|test")
_NOT_SECRET_KEY = re.compile(
    r"(?i)(?:policy|length|len|min|max|rules?|format|pattern|regex|file|path|name|id|url|uri|field|type|"
    r"hash|expiry|expires|ttl|timeout|count|size|header|prefix|env|var|version|label|manager|store|ref|"
    r"mode|enabled|required|strength|reset|hint|prompt|question|placeholder)[\"']?$"
)
_SYMBOLS = frozenset("!@#$%^&*+=?~|/\\:'\"")


def shannon_entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def char_classes(value: str) -> set[str]:
    """Which of upper/lower/digit/symbol occur in ``value`` (``_-.`` are not symbols)."""
    out = set()
    for ch in value:
        if ch.isupper():
            out.add("upper")
        elif ch.islower():
            out.add("lower")
        elif ch.isdigit():
            out.add("digit")
        elif ch in _SYMBOLS:
            out.add("symbol")
    return out


def _sequential(value: str, run: int = 6) -> bool:
    count = 1
    for a, b in itertools.pairwise(value):
        count = count + 1 if ord(b) - ord(a) == 1 else 1
        if count >= run:
            return True
    return False


@dataclass(frozen=True)
class _Rule:
    rule_id: str
    description: str
    pattern: re.Pattern[str]
    keywords: tuple[str, ...]
    min_entropy: float
    context: re.Pattern[str] | None
    context_window: int
    classes: frozenset[str]
    classes_any: int
    generic: bool
    severity: str
    reject: re.Pattern[str] | None
    require: tuple[str, ...] = ()
    window: int = 300
    window_before: int = 40
    low: re.Pattern[str] | None = None  # ``lowered(pattern)``, run on lower-cased ASCII text


class SecretDetector:
    """Record detector for the ``secret`` category."""

    category = CATEGORY

    def __init__(self, section: dict[str, Any], disabled: frozenset[str] = frozenset()) -> None:
        self.rules: list[_Rule] = []
        for raw in section.get("rules", []) or []:
            if raw.get("enabled", True) is False or f"{CATEGORY}/{raw['id']}" in disabled:
                continue
            context = raw.get("context")
            self.rules.append(
                _Rule(
                    rule_id=str(raw["id"]),
                    description=str(raw.get("description", raw["id"])),
                    pattern=re.compile(raw["pattern"]),
                    keywords=tuple(str(k).lower() for k in raw.get("keywords", []) or []),
                    min_entropy=float(raw.get("min_entropy", 0.0)),
                    context=re.compile(context) if context else None,
                    context_window=int(raw.get("context_window", 100)),
                    classes=frozenset(raw.get("classes", []) or []),
                    classes_any=int(raw.get("classes_any", 0)),
                    generic=bool(raw.get("generic", False)),
                    severity=str(raw.get("severity", "high")),
                    reject=re.compile(raw["reject"]) if raw.get("reject") else None,
                    require=tuple(str(k).lower() for k in raw.get("require", []) or []),
                    window=int(raw.get("window", 300)),
                    window_before=int(raw.get("window_before", 40)),
                )
            )
            self.rules[-1] = replace(self.rules[-1], low=lowered(self.rules[-1].pattern))
        self.index = KeywordIndex([r.keywords for r in self.rules], [r.pattern for r in self.rules])
        self._all_keyed = all(r.keywords for r in self.rules)
        placeholders = section.get("placeholders", []) or []
        self.placeholder = (
            re.compile("|".join(f"(?:{p})" for p in placeholders), re.I) if placeholders else None
        )
        self.examples = frozenset(str(v) for v in section.get("example_values", []) or [])

    # -- value filters -------------------------------------------------------------

    def is_placeholder(self, value: str) -> bool:
        """True for documented examples, template variables and obvious dummies."""
        if value in self.examples or any(ex in value for ex in self.examples if len(ex) >= 16):
            return True
        if self.placeholder is not None:
            for m in self.placeholder.finditer(value):
                if len(value) <= 40 or not m.group().isalnum():
                    return True
                # in a long random value (a key body) a word like "fake" occurs by chance:
                # count it only when it stands apart from the random characters
                before = value[m.start() - 1] if m.start() > 0 else " "
                after = value[m.end()] if m.end() < len(value) else " "
                if not before.isalnum() and not after.isalnum():
                    return True
        return len(value) <= 64 and _sequential(value)

    def _generic_ok(self, key: str, value: str) -> bool:
        value = value.rstrip(".!?:")
        if len(value) < 8:
            return False
        if _CODEY_VALUE.match(value) or _DOTTED_IDENT.match(value) or _ENV_NAME.match(value):
            return False
        if _SNAKE.match(value) or _CAMEL.match(value):
            return False
        if "://" in value or value.startswith(("/", "~", "./", "$", "%", "&", "#", "@", "\\")):
            return False
        if _UUID.match(value):
            return False
        if _HEX.match(value) and (len(value) in (32, 40, 56, 64, 96, 128) and _HASH_KEY.search(key)):
            return False
        if _HASH_KEY.search(key) or _KEY_PLACEHOLDER.search(key):
            return False
        if _NOT_SECRET_KEY.search(key.strip().rstrip(":=").strip()):
            return False
        if re.search(r"[A-Za-z_]=", value.rstrip("=")):
            return False  # key=value pairs (settings), not a credential
        return not value.isalpha() or any(c.isupper() for c in value[1:])

    # -- scanning ------------------------------------------------------------------

    def scan(self, record: Record) -> Iterator[Finding]:
        """Secrets in every text field of ``record``."""
        for field in record.fields:
            yield from self.scan_field(record, field)

    def find(self, text: str) -> list[tuple[_Rule, int, int, str]]:
        """``(rule, start, end, value)`` for each secret in ``text`` (non-overlapping)."""
        low, hits, possible = self.index.hits_text(text)
        same = same_spans(text, low)
        spans: list[tuple[_Rule, int, int, str]] = []
        if self._all_keyed:
            todo: Iterable[int] = sorted(hits)
        else:
            todo = range(len(self.rules)) if possible is None else sorted(possible)
        for i in todo:
            rule = self.rules[i]
            # case-insensitive rules run case-sensitively on the lower-cased copy (same spans)
            pattern, subject = (rule.low, low) if same and rule.low is not None else (rule.pattern, text)
            if rule.keywords:
                where = hits.get(i)
                if where is None:
                    continue
                if rule.require and not all(k in low for k in rule.require):
                    continue
                if rule.window > 0:
                    windows = merge_windows(where, len(text), rule.window_before, rule.window)
                    matches = windowed_finditer(pattern, subject, windows)
                else:
                    matches = list(pattern.finditer(subject))
            else:
                matches = list(pattern.finditer(subject))
            for m in matches:
                if len(spans) >= MAX_PER_FIELD:
                    break
                gd = m.groupdict()
                group = next((g for g in _GROUPS if gd.get(g) is not None), "")
                start, end = m.span(group) if group else m.span()
                value = text[start:end]
                if any(s < end and start < e for _, s, e, _ in spans):
                    continue
                if not self._accept(rule, m, text, start, end, value):
                    continue
                spans.append((rule, start, end, value))
        return spans

    def _accept(self, rule: _Rule, m: re.Match[str], text: str, start: int, end: int, value: str) -> bool:
        check = value.replace("\\n", "").replace("\n", "")
        if self.is_placeholder(value):
            return False
        if rule.reject is not None and rule.reject.fullmatch(value):
            return False
        if rule.min_entropy and shannon_entropy(check) < rule.min_entropy:
            return False
        if rule.classes and not rule.classes <= char_classes(check):
            return False
        if rule.classes_any and len(char_classes(check)) < rule.classes_any:
            return False
        if rule.context is not None:
            lo = max(0, start - rule.context_window)
            window = text[lo:start] + " " + text[end : end + rule.context_window // 3]
            if not rule.context.search(window):
                return False
        if rule.generic:
            # the key as written (``m`` may have matched the lower-cased copy of the text)
            key = text[m.start("key") : m.end("key")] if "key" in m.re.groupindex else ""
            if not key:
                i = m.start()
                while i > 0 and m.start() - i < 40 and (text[i - 1].isalnum() or text[i - 1] in "_.-"):
                    i -= 1
                key = text[i : m.start("secret")]
            if not self._generic_ok(key, value):
                return False
        return True

    def scan_field(self, record: Record, field: TextField) -> Iterator[Finding]:
        """Secrets in one field."""
        text = field.text
        spans = self.find(text)
        if not spans:
            return
        for rule, start, end, value in spans:
            severity = rule.severity if field.role == "response" else LOWER_SEVERITY.get(rule.severity, "low")
            yield make_finding(
                CATEGORY,
                rule.rule_id,
                f"{rule.description} in {field.role} ({field.path})",
                record,
                field,
                severity=severity,
                excerpt_text=_redacted_excerpt(text, start, end, spans),
                column=start + 1,
                hint="remove the record or replace the value with a placeholder; rotate the credential "
                "if it is real",
                properties={"fingerprint": fingerprint(f"{CATEGORY}/{rule.rule_id}", record.file, value)},
            )


def _redacted_excerpt(
    text: str, start: int, end: int, spans: list[tuple[Any, int, int, str]], width: int = 40
) -> str:
    lo = max(0, start - width)
    hi = min(len(text), end + width)
    pieces: list[str] = []
    pos = lo
    for _, s, e, value in sorted(spans, key=lambda t: t[1]):
        if e <= lo or s >= hi:
            continue
        s2, e2 = max(s, lo), min(e, hi)
        if s2 < pos:
            continue
        pieces.append(text[pos:s2])
        pieces.append(redact(value) if s2 == s else "[REDACTED]")
        pos = e2 if e2 == e else hi
        if e > hi:
            pos = hi
    pieces.append(text[pos:hi])
    out = ("…" if lo > 0 else "") + "".join(pieces) + ("…" if hi < len(text) else "")
    return "".join(ch if ch.isprintable() else " " for ch in out)
