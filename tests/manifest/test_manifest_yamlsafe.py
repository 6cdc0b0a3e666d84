"""ftpolicy.manifest.yamlsafe: safe loading with a position for every value."""

from __future__ import annotations

import pytest

from ftpolicy.errors import ManifestError
from ftpolicy.manifest.yamlsafe import MAX_BYTES, Positions, escape_pointer_token, load_yaml

DOC = b"""\
# comment
name: tickets
version: "1.0"
sources:
  - name: a
    uri: s3://x/y
  - name: b
collection:
  start: 2026-09-01
flow: [1, 2]
"a/b": slash
"""


def error_of(data: bytes) -> ManifestError:
    with pytest.raises(ManifestError) as exc:
        load_yaml("m.yaml", data)
    assert exc.value.location is not None and exc.value.location.path == "m.yaml"
    return exc.value


def test_values_and_positions() -> None:
    value, pos = load_yaml("m.yaml", DOC)
    assert value["sources"][1] == {"name": "b"}
    assert value["collection"]["start"] == "2026-09-01"  # timestamps stay text for the schema
    assert (pos.line("/name"), pos.column("/name")) == (2, 7)
    assert (pos.line("/version"), pos.column("/version")) == (3, 10)
    assert pos.line("/sources/0/uri") == 6
    assert (pos.line("/sources/1"), pos.column("/sources/1")) == (7, 5)
    assert pos.line("/a~1b") == 11


def test_collections_are_located_at_their_key() -> None:
    _, pos = load_yaml("m.yaml", DOC)
    assert (pos.line("/sources"), pos.column("/sources")) == (4, 1)
    assert (pos.line("/collection"), pos.column("/collection")) == (8, 1)
    assert (pos.line("/flow"), pos.column("/flow")) == (10, 1)
    assert pos.line("") == 2  # the document starts at its first key


def test_line_falls_back_to_the_nearest_parent() -> None:
    _, pos = load_yaml("m.yaml", DOC)
    assert pos.line("/sources/1/uri") == 7
    assert pos.line("/nowhere/deep") == 2
    assert pos.column("/nowhere") is None
    assert Positions().line("/x") is None


def test_pointer_escaping() -> None:
    assert escape_pointer_token("a/b~c") == "a~1b~0c"
    assert escape_pointer_token(3) == "3"


def test_bom_is_accepted() -> None:
    value, _ = load_yaml("m.yaml", b"\xef\xbb\xbfkind: dataset\n")
    assert value == {"kind": "dataset"}


@pytest.mark.parametrize(
    ("data", "line", "column", "message"),
    [
        (b"a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key 'a' (first defined on line 1)"),
        (b"x:\n  k: 1\n  k: 2\n", 3, 3, "duplicate key 'k' (first defined on line 2)"),
        (b"a: &x [1]\nb: *x\n", 2, 4, "YAML aliases (*name) are not allowed"),
        (b"base: {a: 1}\nmore:\n  <<: {b: 2}\n", 3, 3, "YAML merge keys (<<) are not allowed"),
        (b"? [a, b]\n: value\n", 1, 3, "mapping keys must be plain strings"),
        (b"a: !!binary aGVsbG8=\n", 1, 4, "YAML tag !!binary is not allowed"),
        (b"a: !!set {x, y}\n", 1, 4, "YAML tag !!set is not allowed"),
        (b"a:\n  - !custom x\n", 2, 5, "YAML tag !custom is not allowed"),
        (b"a: !!python/object/apply:os.system ['true']\n", 1, 4, "!!python/object/apply:os.system"),
    ],
)
def test_refused_constructs(data: bytes, line: int, column: int, message: str) -> None:
    err = error_of(data)
    assert err.location is not None
    assert (err.location.line, err.location.column) == (line, column)
    assert message in err.message
    assert err.hint and err.code == "manifest.yaml"


def test_standard_tags_are_allowed() -> None:
    value, _ = load_yaml("m.yaml", b'a: !!str 1\nb: !!int "3"\nc: !!float 1\n')
    assert value == {"a": "1", "b": 3, "c": 1.0}


@pytest.mark.parametrize(
    ("data", "line", "message", "hint"),
    [
        (b"a: 1\nb:\n\tc: 2\n", 3, "'\\t'", "tab characters"),
        (b"a: 1\nb c\nd: 2\n", 2, "this line is not 'key: value'", "add ': '"),
        (b"a: 1\nb: 'open\n", 2, "a quoted value is never closed", "close the quote"),
        (b'a: "open\nb: 1\nc: "x"\n', 1, "a quoted value runs on from line 1 to line 3", "close the quote"),
        (b"a: [1, 2\nb: 3\n", 1, "the list [ opened here is not closed", "close the brackets"),
        (b"a: {x: 1\nb: 3\n", 1, "the mapping { opened here is not closed", "close the brackets"),
        (b"a:\n  b: 1\n   c: 2\n", 3, "mapping values are not allowed here", "indentation"),
        (b"a: 1\n- b\n", 2, "YAML syntax error", "YAML"),
    ],
)
def test_syntax_errors_point_at_the_cause(data: bytes, line: int, message: str, hint: str) -> None:
    err = error_of(data)
    assert err.location is not None and err.location.line == line, err.diagnostics()
    assert err.message.startswith("YAML syntax error: ")
    assert message in err.message
    assert err.hint is not None and hint in err.hint


def test_non_utf8_names_line_and_column() -> None:
    err = error_of(b"a: 1\nb: caf\xe9\n")
    assert err.location is not None and (err.location.line, err.location.column) == (2, 7)
    assert "byte 0xe9 at offset 11" in err.message and err.code == "manifest.encoding"


@pytest.mark.parametrize("data", [b"", b"\n\n  \n", b"# only\n# comments\n"])
def test_empty(data: bytes) -> None:
    err = error_of(data)
    assert err.code == "manifest.empty" and err.location is not None and err.location.line == 1


def test_too_large() -> None:
    err = error_of(b"a: 1\n" + b"#" * MAX_BYTES)
    assert err.code == "manifest.too-large"


def test_alias_bomb_is_refused_quickly() -> None:
    lines = [b'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]".encode())
    err = error_of(b"\n".join(lines) + b"\n")
    assert err.location is not None and err.location.line == 2
