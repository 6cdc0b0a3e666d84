"""An exact pre-screen for the regular-expression rules of the record detectors.

Most field texts of a training set match none of the secret, approval-bypass and
prompt-injection rules, yet finding that out rule by rule (keyword lookup, then each
rule's expression in windows around its keywords) is most of what those detectors cost.
:class:`RuleScreen` asks the question once per text for every rule together: all rule
patterns go into one Hyperscan database compiled in *prefilter* mode, where a pattern
may report matches it would not make but never misses one it would, and one scan of the
text names the rules that could match. A detector then runs only those rules, exactly as
before, so findings are the same with or without the screen (the differential tests run
both ways on a generated corpus).

ASCII text is scanned against the patterns as written; other text against a second
database whose patterns are widened for Unicode (:func:`unicode_widen`: Hyperscan's
``\\w``, ``\\s``, ``\\d`` and ``\\b`` are ASCII-only in UTF-8 mode, Python's are not), and
rules with cased non-ASCII letters under IGNORECASE always run on it. Where the answer
would still not be exact the screen stands aside (``candidates`` returns ``None``: every
rule runs):

* the text holds ``\\x0b`` or ``\\x1c-\\x1f`` (white space to Python's ``\\s``, not to
  Hyperscan's), or, in non-ASCII text, a character Python's case-insensitive matching
  equates with an ASCII letter (İ ı ſ K) — each database holds these as one more
  expression, so the same scan finds them;
* the text holds lone surrogates (not valid UTF-8);
* Hyperscan is not installed (it is a declared dependency; a platform without its wheels
  still scans, only slower), or ``FTPOLICY_NO_SCREEN`` is set.

A rule is left out of the screen (it always runs) when its pattern uses syntax whose
meaning differs between Python's ``re`` and Hyperscan (``{,n}``, atomic groups,
possessive quantifiers, conditionals, ``\\N``/``\\u``/``\\U``/``\\x`` escapes, verbose or
ASCII/locale flags) or does not compile. Bounded repetitions are widened before
compiling (``{2,60}`` becomes ``{2,}``, a long ``{36}`` becomes ``{36,}``): that only adds
false candidates, and it cuts the compile time of the default rules from ~14 s to ~1 s.
The compiled database is kept in the user's cache folder (``$FTPOLICY_CACHE_DIR``, else
``$XDG_CACHE_HOME/ftpolicy``, else ``~/.cache/ftpolicy``) under the digest of the
patterns, flags and Hyperscan version, so later scans (and parallel workers) load it in
milliseconds.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["RuleScreen", "cache_dir", "unicode_widen", "widen"]

# syntax that Python's ``re`` and Hyperscan read differently (or Hyperscan lacks)
_NOT_PORTABLE = re.compile(r"\{,|\(\?>|\(\?\(|[*+?}]\+|\\[NuUx]|\(\?[aiLmsu]*[xLau]")
_REPEAT = re.compile(r"\{(\d*)(,?)(\d*)\}")
# Characters on which the screen stands aside: Python's \s also takes \x0b and \x1c-\x1f,
# which Hyperscan's does not; in other text also the characters that Python's
# case-insensitive matching equates with ASCII letters (dotted/dotless i, long s, Kelvin).
# Each database holds them as one more expression, so the same scan finds them.
_GUARD = r"[\x0b\x1c-\x1f]"
_GUARD_U = r"[\x0b\x1c-\x1f]|\x{130}|\x{131}|\x{17f}|\x{212a}"
_SCREEN_VERSION = "2"


def cache_dir() -> Path:
    """The user's ftpolicy cache folder (created on demand by writers)."""
    env = os.environ.get("FTPOLICY_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ftpolicy"


def widen(src: str) -> str:
    """``src`` with bounded repetitions opened up (``{m,n}`` -> ``{m,}``, ``{n}`` -> ``{n,}``
    for n >= 4): a pattern that matches everything the original matches, and more."""
    out: list[str] = []
    i = 0
    n = len(src)
    in_class = False
    while i < n:
        ch = src[i]
        if ch == "\\":
            out.append(src[i : i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            if src.startswith("^", i):
                out.append("^")
                i += 1
            if src.startswith("]", i):
                out.append("]")
                i += 1
            continue
        if ch == "{":
            m = _REPEAT.match(src, i)
            if m and m.group(1):
                lo = m.group(1)
                if m.group(2) or int(lo) >= 4:
                    out.append("{" + lo + ",}")
                else:
                    out.append(m.group(0))
                i = m.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


# shorthand classes that Python reads with Unicode tables: widened to take any non-ASCII
# character too (outside a class, and inside a class that is not negated)
_UNI_SHORT = {"w": "(?:\\w|[^\\x00-\\x7f])", "s": "(?:\\s|[^\\x00-\\x7f])", "d": "(?:\\d|[^\\x00-\\x7f])"}
_UNI_CLASS_ADD = "\\x{80}-\\x{10ffff}"


def unicode_widen(src: str) -> str | None:
    """``src`` for scanning non-ASCII text in Hyperscan's UTF-8 mode (whose ``\\w``, ``\\s``,
    ``\\d`` and ``\\b`` are ASCII-only) so that it matches wherever Python's Unicode-aware
    reading matches: ``\\w``/``\\s``/``\\d`` also take any non-ASCII character, a class
    that is not negated and holds one of them takes all non-ASCII characters, and ``\\b``/
    ``\\B`` are dropped (an assertion left out only widens). The negated forms (``\\W``,
    ``\\S``, ``\\D``, ``[^...]``) already match every non-ASCII character there."""
    out: list[str] = []
    i = 0
    n = len(src)
    while i < n:
        ch = src[i]
        if ch == "\\" and i + 1 < n:
            esc = src[i + 1]
            if esc in _UNI_SHORT:
                out.append(_UNI_SHORT[esc])
            elif esc in "bB":
                pass
            else:
                out.append(src[i : i + 2])
            i += 2
            continue
        if ch == "[":
            j = i + 1
            negated = src.startswith("^", j)
            if negated:
                j += 1
            if src.startswith("]", j):
                j += 1
            body_start = j
            while j < n and src[j] != "]":
                j += 2 if src[j] == "\\" else 1
            if j >= n:
                return None  # unbalanced: leave the rule out of this screen
            body = src[body_start:j]
            head = src[i:body_start]
            if not negated and re.search(r"\\[wsd]", body):
                out.append(head + _UNI_CLASS_ADD + body + "]")  # first: no range can swallow it
            else:
                out.append(src[i : j + 1])
            i = j + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _caseless_ok(src: str, flags: int) -> bool:
    """Whether Hyperscan's caseless matching (ASCII case folding in UTF-8 mode without UCP)
    can stand for Python's on non-ASCII text: not when the pattern holds a non-ASCII letter
    with case (Python folds it, Hyperscan would not)."""
    if not flags & re.IGNORECASE and not re.search(r"\(\?[aLmsux-]*i", src):
        return True
    return src.isascii() or not any(c.lower() != c or c.upper() != c for c in src if not c.isascii())


def _load_hyperscan() -> Any:
    if os.environ.get("FTPOLICY_NO_SCREEN"):  # tests compare findings with and without the screen
        return None
    try:
        import hyperscan
    except ImportError:  # pragma: no cover - declared dependency; platforms without wheels
        return None
    return hyperscan


class RuleScreen:
    """Which of ``patterns`` could match a text: one Hyperscan scan for all of them.

    ``candidates(text)`` returns the indexes (into ``patterns``) of the rules that may
    match, or ``None`` when the screen cannot answer for this text (every rule must run).
    Rules left out of the database (see the module docstring) are always candidates.
    """

    def __init__(self, patterns: Sequence[re.Pattern[str]]) -> None:
        self.size = len(patterns)
        self._hs = _load_hyperscan()
        # for ASCII text: the patterns as written (repeats widened)
        self._db, self.always = self._build(patterns, lambda src, flags: widen(src), _GUARD)
        # for other text: patterns widened for Unicode (see unicode_widen)
        self._udb, self.always_u = self._build(
            patterns,
            lambda src, flags: unicode_widen(widen(src)) if _caseless_ok(src, flags) else None,
            _GUARD_U,
        )
        self._found: set[int] = set()

    def _build(
        self,
        patterns: Sequence[re.Pattern[str]],
        rewrite: Callable[[str, int], str | None],
        guard: str,
    ) -> tuple[Any, frozenset[int]]:
        """A database of the patterns as ``rewrite`` gives them (``None``: leave the rule
        out), and the rules it leaves out (they always run). One more expression, reported
        as rule ``size``, finds the ``guard`` characters on which the screen stands aside, in
        the same scan."""
        hs = self._hs
        if hs is None:
            return None, frozenset(range(self.size))
        base = hs.HS_FLAG_PREFILTER | hs.HS_FLAG_SINGLEMATCH | hs.HS_FLAG_UTF8 | hs.HS_FLAG_ALLOWEMPTY
        exprs: list[bytes] = []
        ids: list[int] = []
        flags: list[int] = []
        left_out: set[int] = set()
        for i, pattern in enumerate(patterns):
            src = pattern.pattern
            portable = (
                isinstance(src, str) and not pattern.flags & re.VERBOSE and not _NOT_PORTABLE.search(src)
            )
            text = rewrite(src, pattern.flags) if portable else None
            if text is None:
                left_out.add(i)
                continue
            f = base
            if pattern.flags & re.IGNORECASE:
                f |= hs.HS_FLAG_CASELESS
            if pattern.flags & re.MULTILINE:
                f |= hs.HS_FLAG_MULTILINE
            if pattern.flags & re.DOTALL:
                f |= hs.HS_FLAG_DOTALL
            exprs.append(text.encode("utf-8"))
            ids.append(i)
            flags.append(f)
        if not exprs:
            return None, frozenset(left_out)
        db, rejected = self._database(
            [*exprs, guard.encode()], [*ids, self.size], [*flags, hs.HS_FLAG_SINGLEMATCH | hs.HS_FLAG_UTF8]
        )
        if self.size in rejected:  # pragma: no cover - the guards compile
            return None, frozenset(range(self.size))
        return db, frozenset(left_out | rejected)

    @property
    def active(self) -> bool:
        """Whether the screen can rule anything out."""
        return self._db is not None

    def _database(self, exprs: list[bytes], ids: list[int], flags: list[int]) -> tuple[Any, set[int]]:
        """A compiled database (from the cache when there) and the ids that did not compile."""
        hs = self._hs
        key = hashlib.sha256(
            repr((_SCREEN_VERSION, getattr(hs, "__version__", "?"), exprs, ids, flags)).encode()
        ).hexdigest()
        path = cache_dir() / "screens" / f"{key}.hsdb"
        rejected_path = path.with_suffix(".rejected")
        try:
            refused = {int(v) for v in rejected_path.read_text().split()}
            db = hs.loadb(path.read_bytes(), hs.HS_MODE_BLOCK)
            db.scratch = hs.Scratch(db)  # a loaded database comes without one
            return db, refused
        except Exception:  # absent, truncated or written by another build: compile again
            pass
        rejected: set[int] = set()
        keep = list(range(len(exprs)))
        while True:
            db = hs.Database()
            try:
                db.compile(
                    expressions=[exprs[i] for i in keep],
                    ids=[ids[i] for i in keep],
                    elements=len(keep),
                    flags=[flags[i] for i in keep],
                )
                break
            except hs.error:  # find the patterns Hyperscan refuses, one by one, and leave them out
                bad = [i for i in keep if not _compiles(hs, exprs[i], flags[i])]
                if not bad:
                    raise
                rejected.update(ids[i] for i in bad)
                keep = [i for i in keep if i not in bad]
                if not keep:
                    return None, rejected
        _write_atomic(rejected_path, " ".join(str(v) for v in sorted(rejected)).encode())
        _write_atomic(path, hs.dumpb(db))
        return db, rejected

    def _on_match(self, rule: int, start: int, end: int, flags: int, context: Any) -> None:
        self._found.add(rule)

    def candidates(self, text: str) -> frozenset[int] | None:
        """Rules that may match ``text`` (a superset of those that do), or ``None``."""
        return self.candidates_many((text,))[0]

    def candidates_many(self, texts: Sequence[str]) -> list[frozenset[int] | None]:
        """:meth:`candidates` of each text, in one loop."""
        db, udb = self._db, self._udb
        always, always_u = self.always, self.always_u
        found = self._found
        on_match = self._on_match
        guard = self.size
        out: list[frozenset[int] | None] = []
        for text in texts:
            if text.isascii():
                if db is None:
                    out.append(None)
                    continue
                found.clear()
                db.scan(text.encode("ascii"), match_event_handler=on_match)
                base = always
            else:
                if udb is None:
                    out.append(None)
                    continue
                try:
                    data = text.encode("utf-8")
                except UnicodeEncodeError:  # lone surrogates: not valid UTF-8 for Hyperscan
                    out.append(None)
                    continue
                found.clear()
                udb.scan(data, match_event_handler=on_match)
                base = always_u
            if not found:
                out.append(base)
            elif guard in found:
                out.append(None)  # a guard character (see _GUARD): every rule must run
            else:
                out.append(base.union(found))
        return out


def _compiles(hs: Any, expr: bytes, flags: int) -> bool:
    try:
        hs.Database().compile(expressions=[expr], ids=[0], elements=1, flags=[flags])
    except hs.error:
        return False
    return True


def _write_atomic(path: Path, data: bytes) -> None:
    """Best effort: a cache that cannot be written only costs the next scan a compile."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass
