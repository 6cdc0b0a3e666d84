"""The lexer and source checks the embedded engine relies on (comments, strings, rule heads)."""

from __future__ import annotations

import pytest

from ftpolicy.policy.engines import _rego_source as rs


def test_comments_and_strings_hide_their_content() -> None:
    src = (
        "package a.b\n\n"
        "# http.send({}) in a comment, deny[x] { }\n"
        'x := "http.send( # not a comment"\n'
        "y := `raw\nhttp.send(\n`\n"
        'z := $"t {concat("", ["}"])} #"\n'
    )
    tokens = rs.tokenize(src)
    assert rs.module_package(tokens) == ("a.b", 1)
    assert rs.unsupported_calls(tokens) == []
    assert rs.v1_syntax_problems(tokens) == []
    assert [name for name, _line, _fn in rs.rule_heads(tokens)] == ["x", "y", "z"]
    z = next(t for t in tokens if t.text.startswith("$"))
    assert z.line == 8  # the raw string spans lines 5-7


def test_lex_errors_have_positions() -> None:
    with pytest.raises(rs.LexError) as info:
        rs.tokenize('package a\n\nx := "open\n')
    assert (info.value.line, info.value.col) == (3, 6)
    with pytest.raises(rs.LexError):
        rs.tokenize("package a\n\nx := 1 ^ 2\n")


def test_rule_heads_functions_and_defaults() -> None:
    src = (
        "package t\n\nimport rego.v1\n\ndefault allow := false\n\n"
        "allow if {\n\tinput.a\n} else := true if input.b\n\n"
        "f(x) := y if {\n\ty := x\n}\n\n"
        "test_a if f(1) == 1\n\n"
        "long := [\n\t1,\n\t2,\n]\n\n"
        "test_b if {\n\tlong == [1, 2]\n}\n"
    )
    heads = rs.rule_heads(rs.tokenize(src))
    assert heads == [
        ("allow", 7, False),
        ("f", 11, True),
        ("test_a", 15, False),
        ("long", 17, False),
        ("test_b", 22, False),
    ]


@pytest.mark.parametrize(
    "fmt",
    ["%s", "%v", "%d", "%.2f", "%05d", "%x", "%%", "plain"],
)
def test_sprintf_safe_verbs(fmt: str) -> None:
    tokens = rs.tokenize(f'package s\n\nx := sprintf("{fmt}", [1])\n')
    assert rs.unsupported_constructs(tokens) == []


@pytest.mark.parametrize("fmt", ["%q", "%5s", "%c", "%T", "%#v", "%b"])
def test_sprintf_unsafe_verbs(fmt: str) -> None:
    tokens = rs.tokenize(f'package s\n\nx := sprintf("{fmt}", [1])\n')
    (problem,) = rs.unsupported_constructs(tokens)
    assert fmt in problem.message and problem.line == 3


def test_print_detection() -> None:
    assert rs.uses_print(rs.tokenize('package p\n\nx if print("a")\n'))
    assert not rs.uses_print(rs.tokenize('package p\n\n# print("a")\nx := "print(1)"\n'))
