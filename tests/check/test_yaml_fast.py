"""The libyaml fast path of load_yaml gives exactly what the pure-Python loader gives.

Values, positions of every pointer, and for refused input the very same error (message,
file, line, column, hint, code) — the fast path hands every refusal to the pure-Python loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ftpolicy.errors import ManifestError
from ftpolicy.manifest import yamlsafe
from ftpolicy.manifest.yamlsafe import load_yaml

pytestmark = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")

REPO = Path(__file__).resolve().parents[2]

TRICKY = [
    b"a: &x 1\nb: 2\n",  # an anchor alone is fine
    b"a: &x [1]\nb: *x\n",
    b"&k key: 1\nother: *k\n",
    b"x: &m {a: 1}\ny:\n  <<: *m\n",
    b"list:\n  - &i {a: 1}\n  - *i\n",
    b"a: 1\na: 2\n",
    b"a: 2026-01-01\nb: 2026-01-01T10:00:00Z\nc: '2026-01-01'\n",
    b"i: 0o17\nj: 0x1F\nk: 1_000\nf: .inf\ng: -.nan\nn: ~\nm: null\nt: yes\nu: Off\nv: 1e3\n",
    b"s: |\n  line one\n  line two\nt: >-\n  folded\n  text\n",
    b"flow: {a: [1, 2, {b: c}], d: e}\n",
    b'\'a/b\': 1\n"c~d": 2\nempty:\nq: "x\\ty"\n',
    b"---\nkind: dataset\n...\n",
    b"---\na: 1\n---\nb: 2\n",
    b"a:\n\tb: 1\n",
    b"a: [1, 2\nb: 3\n",
    b"a: 'open\nb: 2\nc: 'x'\n",
    b"a: !!binary aGVsbG8=\n",
    b"a: !!str 5\nb: !!int '7'\n",
    b"? [a, b]\n: value\n",
    b"a: \x07bell\n",
    b"name: caf\xc3\xa9 \xe2\x98\x95\nnext: \xf0\x9f\x98\x80 x\nz: 1\n",
    b"%YAML 1.1\n---\na: 1\n",
    b"a: *undefined\n",
    b"a: &x 1\nb: &x 2\n",
    b"- 1\n- 2\n",
    b"plain\n",
    b"a: b: c\n",
    b"key without colon\nb: 1\n",
]


def _slow(monkeypatch: pytest.MonkeyPatch, data: bytes) -> Any:
    with monkeypatch.context() as m:
        m.setattr(yamlsafe, "_CLoader", None)
        return _outcome(data)


def _outcome(data: bytes) -> Any:
    try:
        value, pos = load_yaml("m.yaml", data)
    except ManifestError as exc:
        return ("error", exc.message, exc.location, exc.hint, exc.code)
    return ("ok", value, pos.by_pointer)


def _corpus() -> list[Path]:
    found: list[Path] = []
    for folder in ("examples", "tests"):
        found.extend(sorted((REPO / folder).rglob("*.yaml")))
        found.extend(sorted((REPO / folder).rglob("*.yml")))
    return [p for p in found if p.is_file() and p.stat().st_size < 200_000]


@pytest.mark.parametrize("data", TRICKY, ids=range(len(TRICKY)))
def test_tricky_input_is_loaded_alike(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _outcome(data) == _slow(monkeypatch, data)


def test_every_yaml_file_in_the_repository_is_loaded_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    files = _corpus()
    assert len(files) > 20
    for path in files:
        data = path.read_bytes()
        assert _outcome(data) == _slow(monkeypatch, data), path


def test_aliases_never_pass_the_fast_path() -> None:
    assert yamlsafe._load_fast("a: &x [1]\nb: *x\n") is None
    assert yamlsafe._load_fast("&k key: 1\nother: *k\n") is None
    anchored = yamlsafe._load_fast("a: &x 1\nb: 2\n")
    assert anchored is not None and anchored[0] == {"a": 1, "b": 2}


def test_a_control_character_is_a_located_error_not_a_crash() -> None:
    with pytest.raises(ManifestError) as exc:
        load_yaml("m.yaml", b"a: 1\nb: x\x07y\n")
    assert exc.value.location is not None
    assert (exc.value.location.line, exc.value.location.column) == (2, 5)
    assert "#x0007" in exc.value.message
