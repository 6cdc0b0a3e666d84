"""Safe YAML loading that remembers where every value came from.

Only the YAML subset manifests need is accepted: mappings with string keys, sequences
and plain scalars. Rejected with a located error: syntax errors (tabs included),
duplicate keys, aliases/anchors (no billion-laughs), merge keys, non-UTF-8 bytes, empty
files. Timestamps stay strings so JSON Schema can check them as ``date-time``.

Speed: when PyYAML was built with libyaml, the document is composed by the C parser
(``CSafeLoader``, about ten times faster) and converted here with the same checks. The C
composer resolves an alias to the very node its anchor names, so an alias shows up as a node
reached twice. Whenever the fast path finds anything wrong (an alias, a refused tag, a syntax
error...) or meets a character the pure-Python reader would refuse, the file is loaded again
with the pure-Python loader, which produces the error exactly as it always did: the messages
and their file:line never depend on whether libyaml is installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ftpolicy.errors import Location, ManifestError

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_YAML_TAG_PREFIX = "tag:yaml.org,2002:"
# The only tags a manifest value may carry (implicitly or written out).
_ALLOWED_TAGS = frozenset(
    _YAML_TAG_PREFIX + t for t in ("map", "seq", "str", "int", "float", "bool", "null", "timestamp", "merge")
)
MAX_BYTES = 16 * 1024 * 1024
_STR_TAG = _YAML_TAG_PREFIX + "str"
_CLoader: Any = getattr(yaml, "CSafeLoader", None) if getattr(yaml, "__with_libyaml__", False) else None
# Characters the pure-Python reader refuses (yaml.reader.Reader.NON_PRINTABLE); libyaml's set
# differs slightly, so such a file always takes the pure-Python path.
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE


@dataclass
class Positions:
    """JSON pointer -> (line, column), both 1-based."""

    by_pointer: dict[str, tuple[int, int]] = field(default_factory=dict)

    def line(self, pointer: str) -> int | None:
        """Line of the value at ``pointer``, else of its nearest located parent."""
        p = pointer
        while True:
            if p in self.by_pointer:
                return self.by_pointer[p][0]
            if not p:
                return None
            p = p.rsplit("/", 1)[0]

    def column(self, pointer: str) -> int | None:
        hit = self.by_pointer.get(pointer)
        return hit[1] if hit else None


def escape_pointer_token(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (the only way to build a YAML bomb)."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(
                "YAML aliases (*name) are not allowed in manifests",
                event.start_mark.line + 1,
                event.start_mark.column + 1,
                "write the value out in full instead of referring to an &anchor",
            )
        return super().compose_node(parent, index)


class _Refused(Exception):
    def __init__(self, message: str, line: int, column: int, hint: str) -> None:
        super().__init__(message)
        self.message, self.line, self.column, self.hint = message, line, column, hint


def decode_utf8(display: str, data: bytes) -> str:
    """Decode strictly, naming the line of the first bad byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ManifestError(
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            hint="save the file as UTF-8",
            location=Location(display, line, column),
            code="manifest.encoding",
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def load_yaml(display: str, data: bytes) -> tuple[Any, Positions]:
    """Parse ``data`` (the bytes of the file shown to users as ``display``)."""
    if len(data) > MAX_BYTES:
        raise ManifestError(
            f"file is {len(data)} bytes; manifests are limited to {MAX_BYTES} bytes",
            hint="manifests pin data by digest; keep the data itself out of the manifest",
            location=Location(display),
            code="manifest.too-large",
        )
    text = decode_utf8(display, data)
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise ManifestError(
            "file is empty",
            hint="a manifest needs at least schema_version and kind; see `ftpolicy init` for examples",
            location=Location(display, 1),
            code="manifest.empty",
        )
    if _CLoader is not None and not _NON_PRINTABLE.search(text):
        fast = _load_fast(text)
        if fast is not None:
            return fast
    try:
        loader = _Loader(text)  # the reader refuses control characters here
    except yaml.reader.ReaderError as exc:
        pos = exc.position
        line = text.count("\n", 0, pos) + 1
        raise ManifestError(
            f"YAML error: character #x{exc.character:04x} is not allowed in YAML text",
            hint="remove the control character (or write it as an escape inside a double-quoted value)",
            location=Location(display, line, pos - (text.rfind("\n", 0, pos) + 1) + 1),
            code="manifest.yaml",
        ) from None
    try:
        node = loader.get_single_node()
        if node is None:  # pragma: no cover - handled by the emptiness check
            raise ManifestError("file is empty", location=Location(display, 1), code="manifest.empty")
        positions = Positions()
        value = _convert(loader, node, "", positions, display)
        return value, positions
    except _Refused as exc:
        raise ManifestError(
            exc.message,
            hint=exc.hint,
            location=Location(display, exc.line, exc.column),
            code="manifest.yaml",
        ) from None
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(display, exc, text) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"YAML error: {exc}", location=Location(display), code="manifest.yaml") from None
    finally:
        loader.dispose()


class _Again(Exception):
    """The fast path met something only the pure-Python loader reports faithfully."""


def _load_fast(text: str) -> tuple[Any, Positions] | None:
    """Compose with libyaml and convert; None when the pure-Python loader must decide."""
    loader = _CLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:  # pragma: no cover - handled by the emptiness check
            return None
        positions = Positions()
        value = _convert_fast(loader, node, "", positions.by_pointer, set(), None)
        return value, positions
    except (_Again, _Refused, yaml.YAMLError):
        return None
    finally:
        loader.dispose()


def _convert_fast(
    loader: Any,
    node: Node,
    pointer: str,
    by_pointer: dict[str, tuple[int, int]],
    seen: set[int],
    at: tuple[int, int] | None,
) -> Any:
    """:func:`_convert` for libyaml nodes: any refusal raises :class:`_Again` (no message here)."""
    if id(node) in seen:  # an alias: the C composer hands out the anchored node again
        raise _Again
    seen.add(id(node))
    mark = node.start_mark
    by_pointer[pointer] = at or (mark.line + 1, mark.column + 1)
    tag = node.tag
    if tag not in _ALLOWED_TAGS:
        raise _Again
    if isinstance(node, MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode) or id(key_node) in seen:
                raise _Again
            seen.add(id(key_node))
            key = key_node.value
            if key in out:
                raise _Again
            child = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
            child_at = None
            if isinstance(value_node, MappingNode | SequenceNode):
                km = key_node.start_mark
                child_at = (km.line + 1, km.column + 1)
            out[key] = _convert_fast(loader, value_node, child, by_pointer, seen, child_at)
        return out
    if isinstance(node, SequenceNode):
        return [
            _convert_fast(loader, item, f"{pointer}/{i}", by_pointer, seen, None)
            for i, item in enumerate(node.value)
        ]
    if tag in (_STR_TAG, _TIMESTAMP_TAG):
        return node.value
    value = loader.construct_object(node, deep=True)
    if isinstance(value, bytes | set):  # pragma: no cover - their tags are refused above
        raise _Again
    return value


def _runaway_quote(text: str, line: int) -> Any:
    """Start mark of a quoted value spanning several lines and ending on ``line`` (0-based).

    A missing closing quote makes YAML swallow the following lines up to the next
    quote character; the parser then fails there, far from the real mistake.
    """
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if (
                isinstance(token, yaml.ScalarToken)
                and token.style in ('"', "'")
                and token.start_mark.line < token.end_mark.line == line
            ):
                return token.start_mark
    except yaml.YAMLError:
        pass
    return None


def _syntax_error(display: str, exc: yaml.MarkedYAMLError, text: str) -> ManifestError:
    """A located, readable error for a YAML syntax error.

    PyYAML notices some mistakes only lines later (a missing ':' or closing quote); for
    those the error points at the line where the unfinished construct starts.
    """
    mark = exc.problem_mark or exc.context_mark
    cmark = exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    context = exc.context or ""
    hint = "fix the YAML syntax at this place"
    if "\t" in problem or "'\\t'" in str(exc):
        hint = "YAML does not allow tab characters for indentation; indent with spaces"
    elif "could not find expected ':'" in problem and cmark is not None:
        mark, problem = cmark, "this line is not 'key: value' (no ':' after the key)"
        hint = "add ': ' after the key, or close a quote left open"
    elif "quoted scalar" in context and cmark is not None:
        mark, problem = cmark, f"a quoted value is never closed ({problem})"
        hint = "close the quote, or escape the quote character inside the value"
    elif mark is not None and (start := _runaway_quote(text, mark.line)) is not None:
        problem = (
            f"a quoted value runs on from line {start.line + 1} to line {mark.line + 1} ({problem} there)"
        )
        mark, cmark = start, None
        hint = "close the quote on the line where it starts"
    elif "mapping values are not allowed" in problem:
        hint = "check this line's indentation against the lines above, or quote a value containing ': '"
    elif "flow" in context:
        hint = "close the brackets ([ ] for lists, { } for mappings)"
        if cmark is not None and mark is not None and cmark.line != mark.line:
            what = "list [" if "sequence" in context else "mapping {"
            problem = f"the {what} opened here is not closed ({problem} on line {mark.line + 1})"
            mark, cmark = cmark, None
    if (
        exc.problem
        and context
        and cmark is not None
        and mark is not None
        and mark is not cmark
        and cmark.line != mark.line
    ):
        problem += f" ({context} that starts on line {cmark.line + 1})"
    return ManifestError(
        f"YAML syntax error: {problem}",
        hint=hint,
        location=Location(display, mark.line + 1 if mark else None, mark.column + 1 if mark else None),
        code="manifest.yaml",
    )


def _convert(
    loader: _Loader,
    node: Node,
    pointer: str,
    positions: Positions,
    display: str,
    at: tuple[int, int] | None = None,
) -> Any:
    positions.by_pointer[pointer] = at or (node.start_mark.line + 1, node.start_mark.column + 1)
    if node.tag not in _ALLOWED_TAGS:
        shown = (
            node.tag.replace(_YAML_TAG_PREFIX, "!!", 1) if node.tag.startswith(_YAML_TAG_PREFIX) else node.tag
        )
        raise _Refused(
            f"YAML tag {shown} is not allowed in manifests",
            node.start_mark.line + 1,
            node.start_mark.column + 1,
            "remove the tag; manifests hold plain text, numbers, booleans, lists and mappings",
        )
    if isinstance(node, MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                raise _Refused(
                    "YAML merge keys (<<) are not allowed in manifests",
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                    "write the merged fields out in full",
                )
            if not isinstance(key_node, ScalarNode):
                raise _Refused(
                    "mapping keys must be plain strings",
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                    "use a plain text key",
                )
            key = key_node.value
            if key in out:
                first = positions.by_pointer.get(f"{pointer}/{escape_pointer_token(key)}")
                where = f" (first defined on line {first[0]})" if first else ""
                raise _Refused(
                    f"duplicate key '{key}'{where}",
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                    "remove one of the two entries; YAML would silently keep only the last",
                )
            child = f"{pointer}/{escape_pointer_token(key)}"
            # A block mapping or list starts on the line after its key; point at the key.
            at = None
            if isinstance(value_node, MappingNode | SequenceNode):
                at = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = _convert(loader, value_node, child, positions, display, at)
        return out
    if isinstance(node, SequenceNode):
        return [
            _convert(loader, item, f"{pointer}/{i}", positions, display) for i, item in enumerate(node.value)
        ]
    assert isinstance(node, ScalarNode)
    if node.tag == _TIMESTAMP_TAG:
        return node.value
    value = loader.construct_object(node, deep=True)
    if isinstance(value, bytes | set):
        raise _Refused(
            f"unsupported YAML value type {node.tag}",
            node.start_mark.line + 1,
            node.start_mark.column + 1,
            "use plain strings, numbers, booleans, lists and mappings",
        )
    return value
