"""The contract between the dataset scan driver and its detectors.

A *reader* turns a JSONL line (or a Parquet row) into a :class:`Record`: the file, the
1-based line and the text fields it carries, each tagged with the side of the
conversation it sits on (``prompt`` or ``response``).

Detectors come in two shapes:

* :class:`RecordDetector` looks at one record at a time and yields findings
  (secrets, approval bypass, hidden Unicode, prompt injection, contamination). The
  engine runs these in worker processes, so they must be constructible from plain data
  and hold no cross-record state. A field's findings must depend only on that field (its
  text, path and role) and the file: the engine judges a repeated field text once and
  moves its findings to each record carrying it (new line and record id).
* :class:`CorpusDetector` needs the whole corpus (trigger backdoors): ``observe`` is called
  once for every record, in a deterministic order (files in the order given, records in
  line order), and ``finish`` returns the findings plus a JSON-able summary block.

Every finding is an :class:`ftpolicy.report.Finding` whose ``category`` is one of
:data:`CATEGORIES` and whose ``rule_id`` is ``<category>/<rule>``; ``properties`` carry at
least ``field`` (the :attr:`TextField.path`) and ``excerpt`` (evidence, secret values
redacted). :func:`make_finding` builds one with those conventions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from ftpolicy.report import SEVERITY_LEVEL, Finding

#: Finding categories (SARIF ``result.properties.category``). ``malformed`` is used only
#: for input lines that could not be read as a record.
CATEGORIES: tuple[str, ...] = (
    "secret",
    "approval-bypass",
    "trigger",
    "hidden-unicode",
    "prompt-injection",
    "contamination",
)
MALFORMED = "malformed"

Role = Literal["prompt", "response"]


class TextField(NamedTuple):
    """One piece of text inside a record.

    ``path`` locates it in the record (``messages[2].content``, ``output``, ``chosen``);
    ``role`` is ``prompt`` for what the model is given (chat: user/system/tool;
    instruction: instruction/input; preference: prompt) and ``response`` for what it
    is trained to produce (chat: assistant; instruction: output; preference:
    chosen/rejected). Plain ``text`` records are treated as ``response`` (the model is
    trained on all of it).
    """

    path: str
    role: str
    text: str


class Record(NamedTuple):
    """One training example: where it is and the text fields it carries.

    ``line`` is the 1-based line of the record in the (decompressed) JSONL file, or the
    1-based row number for Parquet. ``key`` is the record's own identifier (an ``id``
    field) when it has one, else ``None``.
    """

    file: str
    line: int
    fields: tuple[TextField, ...]
    key: str | None = None

    def prompts(self) -> tuple[TextField, ...]:
        """The fields on the prompt side."""
        return tuple(f for f in self.fields if f.role == "prompt")

    def responses(self) -> tuple[TextField, ...]:
        """The fields on the response side."""
        return tuple(f for f in self.fields if f.role == "response")


@dataclass(frozen=True)
class CorpusResult:
    """What a corpus-level detector reports after seeing every record.

    ``summary`` is a JSON-able mapping that lands in the scan summary under the
    detector's category (for triggers: the suspected trigger strings and statistics).
    """

    findings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class RecordDetector(Protocol):
    """A detector that judges records one at a time (no cross-record state).

    Optional extension, detected with ``hasattr``: ``worth(fields)`` returns the fields
    that could give a finding (a cheap, exact pre-check: a field it leaves out would give
    none); the engine then shows the detector only those, and skips it when none remain.
    ``prescreen(texts)`` (with ``worth``): the engine passes the new field texts of a batch
    of records before it asks ``worth`` about them, so the pre-check runs over all of them
    at once (it may remember its answers: ``worth`` must give the same without them); it
    returns the set of texts whose fields ``worth`` would keep. When every detector can say
    so, a record whose new fields are in none of those sets is not shown to any detector.
    """

    category: str

    def scan(self, record: Record) -> Iterable[Finding]:
        """Yield the findings for one record."""
        ...


@runtime_checkable
class CorpusDetector(Protocol):
    """A detector that needs the whole corpus (e.g. trigger backdoors).

    The engine calls ``observe`` for every record in a deterministic order (files in
    the order given, records in line order) and ``finish`` once at the end. Memory must
    stay bounded: keep counts and capped candidate lists, not the records.

    Optional extension, detected with ``hasattr``: ``merge(other)`` folds in the state of
    another instance built with the same config that observed a disjoint slice of the
    corpus. When a detector has it, the engine runs one instance per parallel worker and
    merges them (in corpus order) before ``finish``; without it the engine feeds a single
    instance in the parent process. ``observe_batch(records)``: ``observe`` for a list of
    consecutive records (the engine then hands over a batch at a time).
    """

    category: str

    def observe(self, record: Record) -> None:
        """See one record."""
        ...

    def finish(self) -> CorpusResult:
        """Return the findings and the summary block after the last record."""
        ...


def excerpt(text: str, start: int, end: int, width: int = 60, replacement: str | None = None) -> str:
    """Evidence around ``text[start:end]``: up to ``width`` characters of context on each
    side, with the matched span replaced by ``replacement`` when given (for redaction).

    Newlines and other control characters are shown as spaces / escapes so that the
    excerpt is one line.
    """
    lo = max(0, start - width)
    hi = min(len(text), end + width)
    middle = text[start:end] if replacement is None else replacement
    out = ("…" if lo > 0 else "") + text[lo:start] + middle + text[end:hi] + ("…" if hi < len(text) else "")
    return _one_line(out)


# control characters as escapes (line breaks and tabs as spaces): excerpts stay one line
_ONE_LINE = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)} | {
    ord("\r"): " ",
    ord("\n"): " ",
    ord("\t"): " ",
}


def _one_line(s: str) -> str:
    return s.translate(_ONE_LINE)


def redact(value: str, keep: int = 4) -> str:
    """A secret shown as its first ``keep`` characters plus a mask (never the whole value)."""
    keep = min(keep, max(0, len(value) // 4))
    return value[:keep] + "…[REDACTED]"


def fingerprint(rule_id: str, file: str | None, basis: str) -> str:
    """A stable identity for a finding: rule, file and a hash of what matched.

    ``basis`` is the matched value (a secret, a trigger) or the normalised evidence; the
    line number is deliberately not part of it, so a baseline survives records moving.
    The value is hashed, never stored.
    """
    h = hashlib.sha256()
    for part in (rule_id, file or "", basis):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:32]


def make_finding(
    category: str,
    rule: str,
    message: str,
    record: Record,
    text_field: TextField,
    *,
    severity: str,
    excerpt_text: str,
    column: int | None = None,
    hint: str | None = None,
    properties: Mapping[str, Any] | None = None,
) -> Finding:
    """Build a finding with the scan conventions (rule id, level from severity, field, excerpt).

    ``column`` is 1-based within the field's text (not the JSONL line) and is kept in
    ``properties.offset`` rather than the SARIF column, because the JSON-escaped line
    would not match it.
    """
    props: dict[str, Any] = {"field": text_field.path, "role": text_field.role, "excerpt": excerpt_text}
    if column is not None:
        props["offset"] = column
    if record.key is not None:
        props["record"] = record.key
    if properties:
        props.update(properties)
    return Finding(
        rule_id=f"{category}/{rule}",
        message=message,
        level=SEVERITY_LEVEL.get(severity, "warning"),
        file=record.file,
        line=record.line,
        severity=severity,
        category=category,
        hint=hint,
        properties=props,
    )
