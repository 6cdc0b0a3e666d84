"""``ftpolicy eval import`` on realistic result files of garak, promptfoo, lm-eval and Inspect.

Where the fixture formats come from (written by hand from each tool's documentation, no
file copied):

* fixtures/garak.report.jsonl: garak's docs/source/reporting.rst ("Report JSONL": rows with
  ``entry_type``; ``attempt`` rows with ``uuid``/``status``; one ``eval`` row per
  probe/detector pair with ``passed`` and ``total_evaluated``, older reports ``total``), plus
  the ``start_run setup``, ``init`` and ``completion`` rows garak writes around them.
* fixtures/promptfoo-results.json: promptfoo's "Output formats" docs for
  ``promptfoo eval --output results.json`` (``evalId``, ``results.version`` 3,
  ``results.timestamp``, ``results.results[]`` with ``success``/``score``/``provider``/
  ``testCase``/``metadata``, ``results.stats``, ``config``); red team cases carry
  ``metadata.pluginId`` as in promptfoo's red team plugin docs.
* fixtures/lmeval-results.json: lm-evaluation-harness ``--output_path`` results file
  (``results`` task -> ``"acc,none"``-style metric keys, ``n-samples``, ``config``,
  ``lm_eval_version``, ``date``), as documented in its interface guide and README.
* fixtures/inspect-log.json: Inspect AI's eval log format docs (``EvalLog``: ``version`` 2,
  ``status``, ``eval`` spec with ``task``/``model``/``created``/``packages``, ``results``
  with ``total_samples``/``completed_samples``/``scores[].metrics``, ``stats``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ftpolicy.attest.evidence import check_evidence
from ftpolicy.evals.importers import import_results
from ftpolicy.evals.mapping import load_mapping

from .conftest import run

FIX = Path(__file__).parent / "fixtures"


def do_import(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], tool: str, name: str, *extra: str
) -> tuple[int, dict[str, Any], str]:
    out = tmp_path / f"{tool}.json"
    code, _, err = run(
        capsys, "eval", "import", "--from", tool, str(FIX / name), "--suite", "security-holdout@2026.11",
        "--adapter", "code-assistant-lora@1.0.0", "--output", str(out), "--repo", str(repo), *extra,
    )  # fmt: skip
    assert out.exists(), err
    check_evidence("security-eval", out.read_bytes(), display=str(out))
    return code, json.loads(out.read_text()), err


def by_cat(evidence: dict[str, Any]) -> dict[str, tuple[float, int, bool]]:
    return {r["category"]: (r["score"], r["samples"], r["ok"]) for r in evidence["results"]}


def test_garak(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, ev, err = do_import(repo, tmp_path, capsys, "garak", "garak.report.jsonl")
    assert code == 0
    assert by_cat(ev) == {
        "prompt-injection": (0.95, 100, True),
        "secret-leakage": (1.0, 20, True),
        "unsafe-code": (0.9, 40, True),
        "refusal": (1.0, 10, True),
    }
    assert ev["tool"] == {"name": "garak", "version": "0.10.3"}
    assert ev["run"]["model"] == "code-assistant" and ev["run"]["backend"] == "import:garak"
    assert ev["evaluated_at"] == "2026-11-20T09:58:11Z"
    assert ev["run"]["source_digest"].startswith("sha256:")
    assert "continuation.ContinueSlursReclaimedSlursMini" in err and "unmapped" in ev["notes"]


def test_promptfoo(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, ev, err = do_import(repo, tmp_path, capsys, "promptfoo", "promptfoo-results.json")
    assert code == 1  # one of two indirect prompt injections succeeded
    assert by_cat(ev)["prompt-injection"] == (0.5, 2, False)
    assert by_cat(ev)["secret-leakage"] == (1.0, 1, True)
    assert by_cat(ev)["unsafe-code"] == (1.0, 1, True)
    assert by_cat(ev)["refusal"] == (1.0, 1, True)
    assert ev["run"]["model"] == "openai:chat:code-assistant"
    assert ev["evaluated_at"] == "2026-11-20T10:12:03Z"
    assert "helpfulness smoke test" in err


def test_lm_eval_with_a_mapping(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "schema_version: 1\nlm-eval:\n"
        '  "secbench_prompt_injection": prompt-injection\n'
        '  "secbench_secret_leakage": {category: secret-leakage, metric: "exact_match,none"}\n'
        '  "secbench_insecure_code": unsafe-code\n'
        '  "xstest": refusal\n'
    )
    code, ev, err = do_import(
        repo, tmp_path, capsys, "lm-eval", "lmeval-results.json", "--mapping", str(mapping)
    )
    assert code == 0, err
    assert by_cat(ev) == {
        "prompt-injection": (0.93, 200, True),
        "secret-leakage": (0.97, 150, True),
        "unsafe-code": (0.88, 120, True),
        "refusal": (0.91, 450, True),
    }
    assert "passed" not in ev["results"][0]  # a metric, not a count
    assert ev["tool"] == {"name": "lm-evaluation-harness", "version": "0.4.9"}
    assert "hellaswag" in ev["notes"]


def test_lm_eval_default_mapping_names_the_missing_metric(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "eval", "import", "--from", "lm-eval", str(FIX / "lmeval-results.json"), "--suite",
        "security-holdout@2026.11", "--adapter", "code-assistant-lora@1.0.0", "--output",
        str(tmp_path / "e.json"), "--repo", str(repo),
    )  # fmt: skip
    assert code == 2
    assert "secbench_secret_leakage has no metric 'acc,none'" in err and "metric:" in err


def test_inspect_missing_categories_fail_closed(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, ev, _ = do_import(repo, tmp_path, capsys, "inspect", "inspect-log.json")
    assert code == 1
    cats = by_cat(ev)
    assert cats["unsafe-code"] == (0.87, 100, True)
    assert cats["prompt-injection"] == (0.0, 0, False)  # no results for a category of the suite
    assert ev["tool"] == {"name": "inspect", "version": "0.3.140"}
    assert ev["run"]["model"] == "openai/code-assistant"


def test_inspect_unfinished_log_is_refused(tmp_path: Path) -> None:
    log = json.loads((FIX / "inspect-log.json").read_text())
    log["status"] = "error"
    path = tmp_path / "log.json"
    path.write_text(json.dumps(log))
    from ftpolicy.errors import ConfigError

    with pytest.raises(ConfigError, match="not 'success'"):
        import_results("inspect", path, load_mapping())


def test_bad_mapping_and_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "m.yaml"
    bad.write_text('garak:\n  "dan.*": jailbreak\n')
    from ftpolicy.errors import ConfigError

    with pytest.raises(ConfigError, match="not a category"):
        load_mapping(bad)
    code, out, _ = run(capsys, "eval", "import", "--show-default-mapping")
    assert code == 0 and '"promptinject.*": prompt-injection' in out
    assert load_mapping().lookup("garak", "PromptInject.HijackLongPrompt") is not None
