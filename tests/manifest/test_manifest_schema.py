"""ftpolicy.manifest.schema: the bundled JSON Schemas and the messages their errors become."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from ftpolicy.manifest import Problem, schema_for, validate_instance
from ftpolicy.manifest.schema import KIND_SCHEMAS
from ftpolicy.manifest.yamlsafe import load_yaml
from ftpolicy.resources import schemas_dir

BASELINE = Path(__file__).resolve().parent.parent / "assets" / "malformed" / "baseline.dataset.yaml"


def dataset() -> dict[str, Any]:
    value, _ = load_yaml("baseline.yaml", BASELINE.read_bytes())
    assert isinstance(value, dict)
    return value


def problems(mutate: Any) -> list[Problem]:
    data = copy.deepcopy(dataset())
    mutate(data)
    return validate_instance("dataset", data)


def test_every_schema_is_valid_2020_12_with_id_and_version() -> None:
    files = sorted(schemas_dir().glob("*.schema.json"))
    assert {p.name.split(".")[0] for p in files} >= set(KIND_SCHEMAS.values())
    for path in files:
        doc = json.loads(path.read_text())
        Draft202012Validator.check_schema(doc)
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert doc["$id"].endswith("/" + path.name)
        assert doc["schema_version"] == 1


@pytest.mark.parametrize("kind", sorted(KIND_SCHEMAS))
def test_unknown_top_level_fields_are_rejected(kind: str) -> None:
    schema = schema_for(KIND_SCHEMAS[kind])
    assert schema["additionalProperties"] is False
    found = validate_instance(kind, {"schema_version": 1, "kind": kind, "surprise": True})
    (p,) = [p for p in found if p.pointer == "/surprise"]
    assert p.message == "unknown field 'surprise'"
    assert p.hint is not None and p.hint.startswith("allowed fields here: ") and "schema_version" in p.hint


def test_baseline_is_valid() -> None:
    assert validate_instance("dataset", dataset()) == []


def test_missing_required() -> None:
    (p,) = problems(lambda d: d["collection"].pop("end"))
    assert (p.pointer, p.message) == ("/collection", "missing required field 'end' in /collection")
    assert p.hint == "add 'end:' (see schemas/ for its format)"
    found = problems(lambda d: [d.pop("authors"), d.pop("shards")])
    assert [p.message for p in found] == [
        "missing required field 'authors'",
        "missing required field 'shards'",
    ]


def test_wrong_types_say_what_was_found() -> None:
    (p,) = problems(lambda d: d.update(version=1.0))
    assert p.message == "expected text, got a number 1.0"
    assert p.hint == 'quote the value so YAML keeps it as text: "1.0"'
    (p,) = problems(lambda d: d["shards"][0].update(bytes="lots"))
    assert (p.pointer, p.message) == ("/shards/0/bytes", 'expected a whole number, got text "lots"')
    (p,) = problems(lambda d: d.update(authors="dana"))
    assert p.message == 'expected a list, got text "dana"'
    (p,) = problems(lambda d: d["shards"][0].update(records=True))
    assert p.message == "expected a whole number, got a boolean true"


def test_formats_use_the_schema_description() -> None:
    (p,) = problems(lambda d: d["preprocessing"][0].update(parameters_digest="sha256:XYZ"))
    assert p.pointer == "/preprocessing/0/parameters_digest"
    assert p.message == '"sha256:XYZ" has the wrong format: sha256:<64 lower-case hex>'
    (p,) = problems(lambda d: d["collection"].update(start="31/12/2026"))
    assert p.message == '"31/12/2026" is not a valid date (calendar date, e.g. 2026-11-02)'
    (p,) = problems(lambda d: d.update(name="Tickets"))
    assert "has the wrong format: lower-case name" in p.message


def test_ranges_enums_and_lists() -> None:
    (p,) = problems(lambda d: d["shards"][0].update(records=-5))
    assert p.message == "-5 is too small (must be >= 0)"
    (p,) = problems(lambda d: d["sources"][0].update(kind="scraped"))
    assert p.message.startswith('"scraped" is not allowed here; use one of: "internal", "vendor"')
    (p,) = problems(lambda d: d.update(authors=["dana", "dana"]))
    assert p.message == "list contains duplicates"
    (p,) = problems(lambda d: d.update(sources=[]))
    assert (p.pointer, p.message) == ("/sources", "must not be empty")


def test_one_of_picks_the_intended_branch() -> None:
    (p,) = problems(lambda d: d["shards"][0].update(uri="s3://b/k"))
    assert (p.pointer, p.message) == ("/shards/0", "give either 'path' or 'uri', not both")
    (p,) = problems(lambda d: d.update(parent="not a version!"))
    assert p.pointer == "/parent" and "matches none of the allowed forms" in p.message


def test_adapter_base_model_must_be_pinned() -> None:
    found = validate_instance(
        "adapter", {"schema_version": 1, "kind": "adapter", "base_model": {"id": "org/model"}}
    )
    (p,) = [p for p in found if p.pointer == "/base_model"]
    assert "pinned with 'revision' (40-hex commit) or 'digest'" in p.message
    assert p.hint is not None and "not immutable" in p.hint


def test_all_problems_without_duplicates() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["shards"][0]["records"] = -1
        d["authors"] = []
        d["extra"] = 1

    found = problems(mutate)
    assert sorted(p.pointer for p in found) == ["/authors", "/extra", "/shards/0/records"]
    assert len({(p.pointer, p.message) for p in found}) == len(found)
