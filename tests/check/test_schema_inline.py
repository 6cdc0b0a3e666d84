"""Schemas with their references resolved up front validate exactly like the originals.

The manifest validator inlines ``$ref`` targets once per kind and answers "valid?" with a
compiled check first, for speed; every problem (pointer, message, hint) must stay what
jsonschema reports through ``$ref``, and the compiled verdict must be jsonschema's.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ftpolicy.manifest import kind_for_path, schema
from ftpolicy.manifest.yamlsafe import load_yaml

REPO = Path(__file__).resolve().parents[2]
ODD_VALUES: list[Any] = [
    None,
    5,
    -1,
    1.5,
    True,
    "",
    "x y",
    "UPPER/../x",
    "sha256:zz",
    [],
    {},
    ["a", "a"],
    {"k": 1},
]


def _reference_validator(kind: str) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    docs = schema._load_all().values()
    registry: Registry[Any] = Registry().with_resources(
        [(d["$id"], Resource.from_contents(d)) for d in docs if "$id" in d]
    )
    return Draft202012Validator(
        schema.schema_for(schema.KIND_SCHEMAS[kind]),
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def _pointers(value: Any, pointer: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield pointer
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _pointers(v, (*pointer, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _pointers(v, (*pointer, i))


def _mutants(doc: dict[str, Any]) -> Iterator[Any]:
    for pointer in _pointers(doc):
        if not pointer:
            continue
        for odd in [*ODD_VALUES, "__delete__"]:
            mutant = copy.deepcopy(doc)
            parent = mutant
            for token in pointer[:-1]:
                parent = parent[token]
            if odd == "__delete__":
                del parent[pointer[-1]]
            else:
                parent[pointer[-1]] = odd
            yield mutant


def _examples() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    base = REPO / "examples" / "governed-repo"
    for path in sorted(base.rglob("*.yaml")):
        rel = path.relative_to(base).as_posix()
        kind = "config" if rel == "ftpolicy.yaml" else kind_for_path(rel)
        if kind in schema.KIND_SCHEMAS and kind not in {k for k, _ in out}:  # one of each kind
            value, _ = load_yaml(rel, path.read_bytes())
            out.append((kind, value))
    return out


def test_every_kind_has_an_example() -> None:
    kinds = {kind for kind, _ in _examples()}
    assert {"dataset", "adapter", "eval-suite", "config"} <= kinds


@pytest.mark.parametrize("kind", sorted(schema.KIND_SCHEMAS))
def test_inlined_schema_has_no_references_left(kind: str) -> None:
    assert '"$ref"' not in repr(schema._validator(kind).schema).replace("'", '"')


def test_problems_are_identical_on_mutated_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    compared = 0
    for kind, doc in _examples():
        reference = _reference_validator(kind)
        for mutant in _mutants(doc):
            fast = schema.validate_instance(kind, mutant)
            with monkeypatch.context() as m:
                m.setattr(schema, "_validator", lambda _kind, v=reference: v)
                slow = schema.validate_instance(kind, mutant)
            assert fast == slow, (kind, mutant)
            verdict = schema._fast_check(kind)
            assert verdict is not None and verdict(mutant) == reference.is_valid(mutant), (kind, mutant)
            compared += 1
    assert compared > 300
