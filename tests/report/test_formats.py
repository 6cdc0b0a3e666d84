"""Every renderer over the same canned report; SARIF validated against the official schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from ftpolicy.report import Finding, Report, RuleInfo, markdown_summary, render

SARIF_SCHEMA = json.loads((Path(__file__).parents[1] / "sarif-2.1.0-rtm.5.json").read_text())


def _report() -> Report:
    return Report(
        kind="check",
        status="fail",
        findings=[
            Finding(
                "dataset/licence-allowlist",
                "licence 'GPL-3.0' is not allowed",
                "error",
                file="datasets/x/1.yaml",
                line=7,
                severity="high",
                hint="use an allowed licence",
            ),
            Finding(
                "secret/aws-access-key",
                "AWS key in response, a:b,c%",
                "warning",
                file="data/x.jsonl",
                line=3,
                column=2,
                category="secret",
            ),
            Finding("change/control-plane", "policies changed", "note"),
        ],
        summary={"evaluated": 3},
        rules={"dataset/licence-allowlist": RuleInfo("dataset/licence-allowlist", "Licence allowlist")},
    )


def test_sarif_validates_and_has_one_result_per_finding() -> None:
    doc = json.loads(render(_report(), "sarif"))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    results = doc["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == [
        "dataset/licence-allowlist",
        "secret/aws-access-key",
        "change/control-plane",
    ]
    loc = results[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "datasets/x/1.yaml"
    assert loc["region"]["startLine"] == 7
    assert results[1]["properties"]["category"] == "secret"
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    assert rules[results[0]["ruleIndex"]]["id"] == "dataset/licence-allowlist"


def test_github_annotations_escape_properties_and_data() -> None:
    lines = render(_report(), "github").splitlines()
    assert lines[0] == (
        "::error file=datasets/x/1.yaml,line=7,title=dataset/licence-allowlist::"
        "licence 'GPL-3.0' is not allowed — hint: use an allowed licence"
    )
    assert lines[1].startswith("::warning file=data/x.jsonl,line=3,title=secret/aws-access-key::")
    assert lines[1].endswith("AWS key in response, a:b,c%25")
    assert lines[2] == "::notice title=change/control-plane::policies changed"


def test_json_is_versioned_and_counts() -> None:
    doc = json.loads(render(_report(), "json"))
    assert doc["schema"] == "ftpolicy/report/v1"
    assert doc["summary"]["counts"] == {"error": 1, "warning": 1, "note": 1}
    assert doc["findings"][1]["column"] == 2


def test_text_groups_by_file_and_summarises() -> None:
    text = render(_report(), "text")
    assert text.index("data/x.jsonl") < text.index("datasets/x/1.yaml")
    assert "hint: use an allowed licence" in text
    assert text.rstrip().endswith("1 error(s), 1 warning(s), 1 note(s)")


def test_markdown_summary_table() -> None:
    md = markdown_summary(_report())
    assert md.startswith("## ❌ ftpolicy check: FAIL")
    assert "| error | `dataset/licence-allowlist` | `datasets/x/1.yaml:7` |" in md


def test_pretty_json_has_the_layout_of_json_dumps() -> None:
    """The orjson writer gives ``json.dumps(indent=2, ensure_ascii=False)`` byte for byte
    (floats in exponent form aside), and documents orjson refuses still render."""
    from ftpolicy.report.formats import pretty_json

    doc = {
        "findings": [{"rule": "secret/aws", "line": 3, "score": 0.125, "ok": True, "none": None}],
        "empty_list": [],
        "empty_dict": {},
        "nested": [[1, 2], {"é中🙂": 'zero\u200bwidth "quoted" \\ back\nslash'}],
        "big": 2**62,
    }
    assert pretty_json(doc) == json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    refused = {1: "int key", "huge": 2**70}
    assert pretty_json(refused) == json.dumps(refused, indent=2, ensure_ascii=False) + "\n"
    assert json.loads(pretty_json({"tiny": 1e-05})) == {"tiny": 1e-05}
