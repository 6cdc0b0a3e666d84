"""An exact pre-screen for the regular-expression rules of the record detectors.

Most field texts of a training set match none of the secret, approval-bypass and
prompt-injection rules, yet finding that out rule by rule (keyword lookup, then each
rule's expression in windows around its keywords) is most of what those detectors cost.
:class:`RuleScreen` asks the question once per text for every rule together: all rule
patterns go into one Hyperscan database compiled in *prefilter* mode, where a pattern
may report matches it would not make but never misses one it would, and one scan of the
text names the rules that could match. A detector then runs only those rules, exactly as
before, so findings are the same with or without the screen (the differential tests run
both ways on the benchmark corpus).

Where the answer would not be exact the screen stands aside (``candidates`` returns
``None``: every rule runs):

* the text is not ASCII, or holds one of ``\\x0b \\x1c-\\x1f``: Python's ``\\w``, ``\\b``,
  ``\\s`` and case folding are Unicode-aware, Hyperscan's are not, and Python counts those
  control characters as white space;
* Hyperscan is not installed (it is a declared dependency; a platform without its wheels
  still scans, only slower).

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["RuleScreen", "cache_dir", "widen"]

# syntax that Python's ``re`` and Hyperscan read differently (or Hyperscan lacks)
_NOT_PORTABLE = re.compile(r"\{,|\(\?>|\(\?\(|[*+?}]\+|\\[NuUx]|\(\?[aiLmsu]*[xLau]")
_REPEAT = re.compile(r"\{(\d*)(,?)(\d*)\}")
# ASCII text in which Python and Hyperscan agree on \s (Python also counts \x0b and \x1c-\x1f)
_NOT_SCREENABLE = re.compile(r"[\x0b\x1c-\x1f]")
_SCREEN_VERSION = "1"


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
        self._db: Any = None
        always: set[int] = set()
        exprs: list[bytes] = []
        ids: list[int] = []
        flags: list[int] = []
        if self._hs is not None:
            hs = self._hs
            base = hs.HS_FLAG_PREFILTER | hs.HS_FLAG_SINGLEMATCH | hs.HS_FLAG_UTF8 | hs.HS_FLAG_ALLOWEMPTY
            for i, pattern in enumerate(patterns):
                src = pattern.pattern
                if not isinstance(src, str) or pattern.flags & re.VERBOSE or _NOT_PORTABLE.search(src):
                    always.add(i)
                    continue
                f = base
                if pattern.flags & re.IGNORECASE:
                    f |= hs.HS_FLAG_CASELESS
                if pattern.flags & re.MULTILINE:
                    f |= hs.HS_FLAG_MULTILINE
                if pattern.flags & re.DOTALL:
                    f |= hs.HS_FLAG_DOTALL
                exprs.append(widen(src).encode("utf-8"))
                ids.append(i)
                flags.append(f)
            if exprs:
                self._db, rejected = self._database(exprs, ids, flags)
                always.update(rejected)
        else:
            always.update(range(self.size))
        self.always = frozenset(always)
        self._found: set[int] = set()

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
        if self._db is None or not text.isascii() or _NOT_SCREENABLE.search(text) is not None:
            return None
        found = self._found
        found.clear()
        self._db.scan(text.encode("ascii"), match_event_handler=self._on_match)
        if not found:
            return self.always
        return self.always.union(found)


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
