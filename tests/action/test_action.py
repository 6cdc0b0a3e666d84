"""End-to-end tests of ``action.yml`` through the runner double in ``harness.py``.

Each scenario builds a real origin repository from examples/governed-repo (branch ``main``)
with a pull-request branch, checks it out the way actions/checkout does for a
``pull_request`` event (a full clone at the test merge commit ``refs/pull/N/merge``, or a
shallow one), and runs the composite action on it. ftpolicy is not pip-installed per
scenario: one private venv that sees this checkout (through the project's environment) is
placed where the action's install step keeps its venv, with the stamp that step writes,
so the step runs and finds it installed. The real ``pip install`` path is covered by
``test_real_install`` (opt-in: it downloads the dependencies from PyPI).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from harness import ActionResult, evaluate, interpolate, parse_commands, pull_request_event, run_action
from helpers.gitrepo import ScratchRepo, repo_from_example, run_git

ROOT = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = ROOT / "tests" / "sarif-2.1.0-rtm.5.json"
NOW = "2026-11-28T12:00:00Z"
DS = "datasets/support-tickets/1.1.0.yaml"
NEW_DS = "datasets/support-tickets/1.2.0.yaml"
VENV_NAME = "ftpolicy-action-venv"  # where action.yml's install step keeps its venv

WARN_POLICY = """package ftpolicy.acme

import rego.v1

warn contains v if {
	some c in input.git.changed
	endswith(c.path, ".md")
	msg := sprintf("%s changed: tell the docs team", [c.path])
	v := {"rule": "acme/docs-changed", "msg": msg, "path": c.path}
}
"""


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def action_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The venv the install step would create, seeded once: this checkout's ftpolicy, no download."""
    venv = tmp_path_factory.mktemp("venv") / VENV_NAME
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (purelib,) = (venv / "lib").glob("python3*/site-packages")
    lines = [f"import site; site.addsitedir({d!r})" for d in site.getsitepackages()]
    (purelib / "_ftpolicy_action_harness.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
    version = sys.version.split()[0]
    (venv / ".ftpolicy-action").write_text(f"action={ROOT} python={version}\n", encoding="utf-8")
    return venv


@dataclass
class Scenario:
    """An origin repository with a change branch, and a place to check it out."""

    origin: ScratchRepo
    tmp: Path
    base: str
    action_venv: Path

    def pr_checkout(self, branch: str = "change", *, depth: int | None = None) -> tuple[Path, str]:
        """Check the pull request out as actions/checkout does; return (workspace, HEAD)."""
        ws = self.tmp / "workspace"
        if depth is not None:
            self.origin.clone(ws, depth=depth, branch=branch)
        else:
            self.origin.clone(ws)
            run_git(ws, "checkout", "-q", "--detach", "origin/main")
            stamp = {"GIT_AUTHOR_DATE": "@1767300000 +0000", "GIT_COMMITTER_DATE": "@1767300000 +0000"}
            run_git(
                ws,
                "-c",
                "commit.gpgsign=false",
                "merge",
                "-q",
                "--no-ff",
                "-m",
                "merge",
                f"origin/{branch}",
                env=stamp,
            )
        head = run_git(ws, "rev-parse", "HEAD").strip()
        return ws, head

    def run(
        self,
        *,
        inputs: dict[str, str] | None = None,
        depth: int | None = None,
        event_name: str = "pull_request",
        branch: str = "change",
    ) -> ActionResult:
        ws, head = self.pr_checkout(branch, depth=depth)
        runner_temp = self.tmp / "runner-temp"
        runner_temp.mkdir()
        (runner_temp / VENV_NAME).symlink_to(self.action_venv, target_is_directory=True)
        if event_name == "pull_request":
            event = pull_request_event(
                number=7,
                base_sha=self.base,
                base_ref="main",
                head_sha=self.origin.rev(branch),
                head_ref=branch,
            )
        else:
            event = {
                "ref": f"refs/heads/{branch}",
                "after": head,
                "repository": {"full_name": "acme/governed", "default_branch": "main"},
            }
        return run_action(
            ROOT,
            workspace=ws,
            runner_temp=runner_temp,
            inputs=inputs,
            event=event,
            event_name=event_name,
            env={"FTPOLICY_NOW": NOW},
            python=sys.executable,
            sha=head,
        )


@pytest.fixture
def scenario(tmp_path: Path, action_venv: Path) -> Scenario:
    origin = repo_from_example(tmp_path / "origin")
    base = origin.rev()
    origin.branch("change")
    return Scenario(origin, tmp_path, base, action_venv)


def new_version(repo: ScratchRepo, licence: str = "LicenseRef-Acme-Internal") -> str:
    """support-tickets 1.2.0 derived from 1.1.0, with the first source's licence set to ``licence``."""
    text = repo.read(DS).decode("utf-8")
    text = text.replace('version: "1.1.0"', 'version: "1.2.0"').replace('parent: "1.0.0"', 'parent: "1.1.0"')
    assert "licence: LicenseRef-Acme-Internal" in text
    return text.replace("licence: LicenseRef-Acme-Internal", f"licence: {licence}", 1)


def errors(result: ActionResult) -> list[tuple[str | None, int | None, str | None]]:
    return [(a.file, a.line, a.title) for a in result.annotations if a.command == "error"]


def explain(result: ActionResult) -> str:
    return f"outputs={result.outputs}\n{result.log}\nsummary:\n{result.summary}"


# -- scenarios ----------------------------------------------------------------------------------


def test_clean_change_passes(scenario: Scenario) -> None:
    scenario.origin.commit("add support-tickets 1.2.0", {NEW_DS: new_version(scenario.origin)})
    result = scenario.run()
    assert result.conclusion == "success", explain(result)
    assert result.outputs["result"] == "pass"
    assert (result.outputs["violations"], result.outputs["warnings"]) == ("0", "0")
    assert [a for a in result.annotations if a.command in ("error", "warning")] == []
    assert "## ✅ ftpolicy check: PASS" in result.summary
    assert "checked 1 changed manifest(s)" in result.summary
    assert f"| Base | `{scenario.base}` (pull request base, branch main) |" in result.summary
    sarif = json.loads(Path(result.outputs["sarif-file"]).read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))).validate(sarif)
    assert sarif["runs"][0]["results"] == []
    assert result.step("install").stdout.startswith("ftpolicy already installed")


def test_violating_change_fails_with_annotations_and_sarif(scenario: Scenario) -> None:
    scenario.origin.commit("add 1.2.0", {NEW_DS: new_version(scenario.origin, "CC-BY-NC-4.0")})
    result = scenario.run()
    assert result.conclusion == "failure", explain(result)
    assert result.step("check").returncode == 1
    assert result.outputs["result"] == "fail"
    assert result.outputs["violations"] == "1"
    assert errors(result) == [(NEW_DS, 13, "dataset/licence-not-allowed")]
    (ann,) = [a for a in result.annotations if a.command == "error"]
    assert ann.raw.startswith(f"::error file={NEW_DS},line=13,title=dataset/licence-not-allowed::")
    assert "CC-BY-NC-4.0" in ann.message
    assert "## ❌ ftpolicy check: FAIL" in result.summary
    assert f"`{NEW_DS}:13`" in result.summary
    sarif_path = Path(result.outputs["sarif-file"])
    assert sarif_path.parent.parent == scenario.tmp / "runner-temp"
    sarif = json.loads(sarif_path.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))).validate(sarif)
    (res,) = sarif["runs"][0]["results"]
    assert res["ruleId"] == "dataset/licence-not-allowed"
    loc = res["locations"][0]["physicalLocation"]
    assert (loc["artifactLocation"]["uri"], loc["region"]["startLine"]) == (NEW_DS, 13)


def test_control_plane_change_reports_its_rule(scenario: Scenario) -> None:
    scenario.origin.commit("a repository policy", {"policies/acme.rego": WARN_POLICY})
    result = scenario.run()
    assert result.outputs["result"] == "fail", explain(result)
    assert ("policies/acme.rego", None, "change/control-plane") in errors(result)
    assert "`change/control-plane`" in result.summary


TICKET_POLICY = """package ftpolicy.acme

import rego.v1

deny contains v if {
	some m in input.manifests
	m.subject
	m.kind == "dataset"
	not startswith(m.data.change_summary, "ACME-")
	v := {
		"rule": "acme/ticket-id",
		"msg": sprintf("%s: change_summary must start with a ticket id", [m.path]),
		"path": m.path,
		"pointer": "/change_summary",
	}
}
"""


def test_extra_policy_directory_denies_beside_the_defaults(scenario: Scenario) -> None:
    scenario.origin.commit(
        "add 1.2.0 and the organisation's policies",
        {NEW_DS: new_version(scenario.origin), "org-policies/acme.rego": TICKET_POLICY},
    )
    assert scenario.run().outputs["result"] == "pass"  # without the input, the defaults pass it
    shutil.rmtree(scenario.tmp / "workspace")
    shutil.rmtree(scenario.tmp / "runner-temp")
    result = scenario.run(inputs={"policies": "org-policies"})
    assert result.outputs["result"] == "fail", explain(result)
    (finding,) = errors(result)
    assert finding[0] == NEW_DS and finding[2] == "acme/ticket-id" and finding[1]
    assert "`acme/ticket-id`" in result.summary


def test_extra_policy_directory_may_not_extend_the_defaults(scenario: Scenario) -> None:
    sneaky = TICKET_POLICY.replace("package ftpolicy.acme", "package ftpolicy.dataset")
    scenario.origin.commit("sneaky", {NEW_DS: new_version(scenario.origin), "org/p.rego": sneaky})
    result = scenario.run(inputs={"policies": "org"})
    assert result.outputs["result"] == "error", explain(result)
    (ann,) = [a for a in result.annotations if a.command == "error"]
    assert "ftpolicy.dataset" in ann.message and "default library" in ann.message


def test_shallow_checkout_is_a_clear_error(scenario: Scenario) -> None:
    scenario.origin.commit("add 1.2.0", {NEW_DS: new_version(scenario.origin)})
    result = scenario.run(depth=1)
    assert result.conclusion == "failure"
    assert result.outputs["result"] == "error", explain(result)
    assert result.outputs["sarif-file"] == ""
    (ann,) = [a for a in result.annotations if a.command == "error"]
    assert ann.title == "ftpolicy: shallow clone"
    assert "fetch-depth: 0" in ann.message
    assert "fetch-depth: 0" in result.summary and "ERROR" in result.summary
    assert result.step("fallback").outcome == "skipped"  # the check step reported it itself


def test_unrelated_base_is_a_clear_error(scenario: Scenario) -> None:
    scenario.origin.commit("add 1.2.0", {NEW_DS: new_version(scenario.origin)})
    scenario.origin.orphan("other")
    scenario.origin.commit("unrelated history", {"ftpolicy.yaml": "schema_version: 1\n"})
    scenario.origin.switch("change")
    result = scenario.run(inputs={"base-ref": "origin/other"})
    assert result.outputs["result"] == "error", explain(result)
    (ann,) = [a for a in result.annotations if a.command == "error"]
    assert ann.title == "ftpolicy: unrelated base"
    assert "share no history" in ann.message and "origin/other" in ann.message
    assert "unrelated base" in result.summary


def test_nothing_relevant_changed_passes_and_says_so(tmp_path: Path, action_venv: Path) -> None:
    # A monorepo: the governed repository is ml/gov; the pull request only touches app code.
    origin = repo_from_example(tmp_path / "origin-src")
    mono = tmp_path / "origin"
    (mono / "ml").mkdir(parents=True)
    origin.path.rename(mono / "ml" / "gov")
    (mono / "ml" / "gov" / ".git").rename(mono / ".git")
    repo = ScratchRepo(mono)
    repo.commit("move the governed repository to ml/gov", {"app/main.py": "print('hi')\n"})
    base = repo.rev()
    repo.branch("change")
    repo.commit("app change", {"app/main.py": "print('hello')\n"})
    result = Scenario(repo, tmp_path, base, action_venv).run(inputs={"repo-path": "ml/gov"})
    assert result.conclusion == "success", explain(result)
    assert result.outputs["result"] == "pass"
    assert "Nothing relevant changed" in result.summary
    assert "nothing relevant changed: no file under ml/gov differs" in result.summary


def test_findings_in_a_subfolder_name_paths_from_the_repository_root(
    tmp_path: Path, action_venv: Path
) -> None:
    origin = repo_from_example(tmp_path / "origin-src")
    mono = tmp_path / "origin"
    (mono / "ml").mkdir(parents=True)
    origin.path.rename(mono / "ml" / "gov")
    (mono / "ml" / "gov" / ".git").rename(mono / ".git")
    repo = ScratchRepo(mono)
    repo.commit("move", {})
    base = repo.rev()
    repo.branch("change")
    repo.commit(
        "licence", {f"ml/gov/{NEW_DS}": new_version(ScratchRepo(mono / "ml" / "gov"), "CC-BY-NC-4.0")}
    )
    result = Scenario(repo, tmp_path, base, action_venv).run(inputs={"repo-path": "ml/gov"})
    assert errors(result) == [(f"ml/gov/{NEW_DS}", 13, "dataset/licence-not-allowed")], explain(result)


@pytest.mark.parametrize(
    ("fail_on", "conclusion", "result_value"),
    [("deny", "success", "pass"), ("warn", "failure", "fail"), ("never", "success", "pass")],
)
def test_fail_on_with_warnings(scenario: Scenario, fail_on: str, conclusion: str, result_value: str) -> None:
    scenario.origin.switch("main")
    scenario.base = scenario.origin.commit("a repository policy", {"policies/acme.rego": WARN_POLICY})
    scenario.origin.git("branch", "-f", "change", "main")
    scenario.origin.switch("change")
    scenario.origin.commit("docs", {"README.md": "# docs\n"})
    result = scenario.run(inputs={"fail-on": fail_on})
    assert (result.conclusion, result.outputs["result"]) == (conclusion, result_value), explain(result)
    assert (result.outputs["violations"], result.outputs["warnings"]) == ("0", "1")
    warnings = [(a.file, a.title) for a in result.annotations if a.command == "warning"]
    assert warnings == [("README.md", "acme/docs-changed")]


def test_fail_on_never_reports_a_denial_without_failing(scenario: Scenario) -> None:
    scenario.origin.commit("add 1.2.0", {NEW_DS: new_version(scenario.origin, "CC-BY-NC-4.0")})
    result = scenario.run(inputs={"fail-on": "never", "format": "text"})
    assert result.conclusion == "success", explain(result)
    assert (result.outputs["result"], result.outputs["violations"]) == ("fail", "1")
    # Text output is fenced with stop-commands: repository text in it cannot act as a command.
    assert "[dataset/licence-not-allowed]" in result.stdout
    assert errors(result) == []


def test_outside_pull_requests_the_default_branch_is_the_base(scenario: Scenario) -> None:
    scenario.origin.commit("add 1.2.0", {NEW_DS: new_version(scenario.origin, "CC-BY-NC-4.0")})
    result = scenario.run(event_name="push")
    assert result.outputs["result"] == "fail", explain(result)
    assert "| Base | `origin/main` (default branch) |" in result.summary


def test_invalid_input_is_refused(scenario: Scenario) -> None:
    result = scenario.run(inputs={"fail-on": "sometimes"})
    assert result.outputs["result"] == "error"
    assert any("fail-on is 'sometimes'" in a.message for a in result.annotations), explain(result)


def test_failed_install_sets_result_error(scenario: Scenario) -> None:
    # No stamped venv, and a file where the venv should go: the install step fails (fast, no
    # download), the check is skipped and the fallback step still reports result=error.
    ws, head = scenario.pr_checkout()
    runner_temp = scenario.tmp / "runner-temp"
    runner_temp.mkdir()
    (runner_temp / VENV_NAME).write_text("not a venv\n", encoding="utf-8")
    event = pull_request_event(
        number=7, base_sha=scenario.base, base_ref="main", head_sha=head, head_ref="change"
    )
    result = run_action(
        ROOT, workspace=ws, runner_temp=runner_temp, event=event, python=sys.executable, sha=head
    )
    assert result.step("install").outcome == "failure"
    assert result.step("check").outcome == "skipped"
    assert result.outputs["result"] == "error", explain(result)
    assert result.conclusion == "failure"
    assert "could not be installed" in result.summary
    assert [a.title for a in result.annotations if a.command == "error"] == ["ftpolicy: not installed"]


@pytest.mark.skipif(
    os.environ.get("FTPOLICY_ACTION_REAL_INSTALL") != "1",
    reason="set FTPOLICY_ACTION_REAL_INSTALL=1 to pip-install the action from PyPI (network, ~1 min)",
)
def test_real_install(tmp_path: Path) -> None:
    origin = repo_from_example(tmp_path / "origin")
    base = origin.rev()
    origin.branch("change")
    origin.commit("add 1.2.0", {NEW_DS: new_version(origin, "CC-BY-NC-4.0")})
    scenario = Scenario(origin, tmp_path, base, tmp_path / "unused")
    ws, head = scenario.pr_checkout()
    result = run_action(
        ROOT,
        workspace=ws,
        runner_temp=tmp_path / "runner-temp",
        event=pull_request_event(number=7, base_sha=base, base_ref="main", head_sha=head, head_ref="change"),
        env={"FTPOLICY_NOW": NOW},
        python=sys.executable,
        sha=head,
    )
    assert result.step("install").outcome == "success", explain(result)
    assert result.outputs["result"] == "fail", explain(result)
    assert errors(result) == [(NEW_DS, 13, "dataset/licence-not-allowed")]


# -- the harness itself ---------------------------------------------------------------------------


def test_expressions_follow_github_semantics() -> None:
    ctx = {
        "inputs": {"fail-on": "warn", "empty": ""},
        "steps": {"a": {"outputs": {"x": "1"}}},
        "github": {"event": {"pull_request": {"base": {"sha": "abc"}}}},
        "env": {},
    }
    assert evaluate("inputs.fail-on == 'WARN'", ctx) is True  # strings compare case-insensitively
    assert evaluate("inputs.empty || 'fallback'", ctx) == "fallback"
    assert evaluate("steps.a.outputs.x && 'yes'", ctx) == "yes"
    assert evaluate("steps.missing.outputs.x", ctx) is None
    assert evaluate("github.event.pull_request.base['sha']", ctx) == "abc"
    assert evaluate("format('{0}-{1}', 'a', 1)", ctx) == "a-1"
    assert evaluate("!(inputs.empty != '')", ctx) is True
    assert (
        evaluate(
            "failure() && steps.a.outputs.x == 1",
            ctx,
            {"success": False, "failure": True, "always": True, "cancelled": False},
        )
        is True
    )
    assert interpolate("v=${{ inputs.fail-on }};${{ steps.a.outputs.nope }}.", ctx) == "v=warn;."


def test_command_files_and_stop_commands(tmp_path: Path) -> None:
    log = "::stop-commands::tok\n::error::hidden\n::tok::\n::warning file=a%2Cb.yaml,line=3::x%0Ay\n"
    (ann,) = parse_commands(log)
    assert (ann.command, ann.file, ann.line, ann.message) == ("warning", "a,b.yaml", 3, "x\ny")


# -- static checks of action.yml and the example workflow ----------------------------------------

ACTION = ROOT / "action.yml"
EXAMPLE = ROOT / "examples" / "workflows" / "ftpolicy.yml"
META_SCHEMA = Path(__file__).resolve().parent / "action-metadata.schema.json"


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_action_metadata_matches_the_documented_syntax() -> None:
    schema = json.loads(META_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    jsonschema.Draft202012Validator.check_schema(schema)
    action = _load(ACTION)
    assert list(validator.iter_errors(action)) == []
    broken = copy.deepcopy(action)
    del broken["runs"]["steps"][1]["shell"]  # composite run steps must name their shell
    broken["outputs"]["result"].pop("value")  # composite outputs need a value
    broken["inputs"]["engine"]["requird"] = True  # a typo
    messages = [e.message for e in validator.iter_errors(broken)]
    assert len(messages) == 3, messages


def test_inputs_reach_scripts_only_through_env() -> None:
    action = _load(ACTION)
    declared = set(action["inputs"])
    ids: list[str] = []
    for step in action["runs"]["steps"]:
        run = step.get("run", "")
        assert "${{" not in run, f"step {step.get('id')}: expressions in run: are script injection risks"
        text = json.dumps(step)
        for name in re.findall(r"inputs\.([A-Za-z0-9_-]+)", text):
            assert name in declared, name
        for ref in re.findall(r"steps\.([A-Za-z0-9_-]+)\.", text):
            assert ref in ids, f"step {step.get('id')} reads steps.{ref} before it ran"
        if "id" in step:
            ids.append(step["id"])
    for name, spec in action["outputs"].items():
        for ref in re.findall(r"steps\.([A-Za-z0-9_-]+)\.", spec["value"]):
            assert ref in ids, f"output {name} reads unknown step {ref}"


def test_embedded_python_compiles(tmp_path: Path) -> None:
    (check,) = [s for s in _load(ACTION)["runs"]["steps"] if s.get("id") == "check"]
    m = re.search(r"<<'PY'\n(.*?)\nPY\n", check["run"], re.S)
    assert m is not None
    compile(m.group(1), "action.yml:check", "exec")
    # pyflakes-level lint (undefined names, unused imports) of the script as the step runs it
    script = tmp_path / "check_step.py"
    script.write_text(m.group(1), encoding="utf-8")
    lint = [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F,E9,B", "--ignore", "E402"]
    proc = subprocess.run([*lint, str(script)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_example_workflow_is_complete() -> None:
    wf = _load(EXAMPLE)
    action = _load(ACTION)
    triggers: dict[Any, Any] = dict(wf)
    assert "pull_request" in triggers[True]  # PyYAML reads the key `on` as True
    assert wf["permissions"] == {"contents": "read", "security-events": "write", "pull-requests": "read"}
    (job,) = wf["jobs"].values()
    steps = job["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@") and steps[0]["with"]["fetch-depth"] == 0
    assert re.fullmatch(r"[\w.-]+/ftpolicy@v1", steps[1]["uses"])
    assert set(steps[1]["with"]) <= set(action["inputs"])
    assert steps[2]["uses"].startswith("github/codeql-action/upload-sarif@")
    assert steps[2]["with"]["sarif_file"] == "${{ steps.ftpolicy.outputs.sarif-file }}"


@pytest.mark.opa
def test_opa_engine(scenario: Scenario, opa_server: str) -> None:
    scenario.origin.commit("add 1.2.0", {NEW_DS: new_version(scenario.origin, "CC-BY-NC-4.0")})
    result = scenario.run(inputs={"engine": "opa", "opa-url": opa_server})
    assert result.outputs["result"] == "fail", explain(result)
    assert errors(result) == [(NEW_DS, 13, "dataset/licence-not-allowed")]
    assert "| Engine | OPA " in result.summary


def test_unreachable_opa_is_an_error_never_a_pass(scenario: Scenario) -> None:
    scenario.origin.commit("add 1.2.0", {NEW_DS: new_version(scenario.origin)})
    result = scenario.run(inputs={"engine": "opa", "opa-url": "http://127.0.0.1:9", "fail-on": "never"})
    assert result.conclusion == "failure"
    assert result.outputs["result"] == "error", explain(result)
    assert result.outputs["sarif-file"] == ""


# -- the runner double on a composite action of its own -------------------------------------------

DEMO_ACTION = """
name: demo
description: exercises the runner double
inputs:
  who:
    description: a name
    default: world
  mode:
    description: ok or fail
    required: true
outputs:
  greeting:
    description: from step a
    value: ${{ steps.a.outputs.greeting }}
  later:
    description: from step c
    value: ${{ steps.c.outputs.seen || 'none' }}
  after:
    description: from the cleanup step
    value: ${{ steps.d.outputs.ran }}
runs:
  using: composite
  steps:
    - id: a
      shell: bash
      env:
        WHO: ${{ inputs.who }}
      run: |
        mkdir -p tools && printf '#!/bin/sh\\necho tool-ran\\n' > tools/mytool && chmod +x tools/mytool
        echo "greeting=hello $WHO" >> "$GITHUB_OUTPUT"
        { echo "MULTI<<EOF"; echo "line 1"; echo "line 2"; echo "EOF"; } >> "$GITHUB_ENV"
        echo "$PWD/tools" >> "$GITHUB_PATH"
        echo "# summary from a" >> "$GITHUB_STEP_SUMMARY"
    - id: b
      shell: python
      working-directory: tools
      env:
        MODE: ${{ inputs.mode }}
      run: |
        import os, subprocess, sys
        print(subprocess.run(["mytool"], capture_output=True, text=True).stdout.strip())
        print("cwd-is-tools" if os.getcwd().endswith("tools") else "wrong cwd")
        print("multi=" + os.environ["MULTI"].replace("\\n", "|"))
        sys.exit(1 if os.environ["MODE"] == "fail" else 0)
    - id: c
      shell: bash
      run: echo "seen=yes" >> "$GITHUB_OUTPUT"
    - id: d
      if: failure() && steps.b.outcome == 'failure'
      shell: bash
      run: echo "ran=cleanup" >> "$GITHUB_OUTPUT"
"""


@pytest.mark.parametrize("mode", ["ok", "fail"])
def test_runner_double_applies_command_files_and_conditions(tmp_path: Path, mode: str) -> None:
    action_dir = tmp_path / "act"
    action_dir.mkdir()
    (action_dir / "action.yml").write_text(DEMO_ACTION, encoding="utf-8")
    ws = tmp_path / "ws"
    ws.mkdir()
    result = run_action(
        action_dir,
        workspace=ws,
        runner_temp=tmp_path / "temp",
        inputs={"mode": mode},
        python=sys.executable,
    )
    b = result.step("b").stdout
    assert "tool-ran" in b and "cwd-is-tools" in b and "multi=line 1|line 2" in b
    assert result.outputs["greeting"] == "hello world"
    assert result.summary == "# summary from a\n"
    if mode == "ok":
        assert result.conclusion == "success"
        assert (result.outputs["later"], result.outputs["after"]) == ("yes", "")
        assert result.step("d").outcome == "skipped"
    else:
        assert result.conclusion == "failure"
        assert (result.outputs["later"], result.outputs["after"]) == ("none", "cleanup")
        assert result.step("c").outcome == "skipped"
    with pytest.raises(ValueError, match="required"):
        run_action(action_dir, workspace=ws, runner_temp=tmp_path / "t2", python=sys.executable)
