"""A test double for GitHub's runner that executes a composite action (``action.yml``) locally.

It does what the Actions runner does for ``runs.using: composite``, closely enough to test
``action.yml`` end to end against real Git repositories:

* parses the metadata, applies input defaults and rejects missing required inputs;
* evaluates ``${{ ... }}`` expressions in ``run``, ``env``, ``with``, ``working-directory``,
  ``if``, ``continue-on-error``, input defaults and output ``value`` s, over the contexts
  ``inputs``, ``github`` (with ``github.event`` read from a realistic ``pull_request``
  payload), ``env``, ``steps``
  (``outputs``, ``outcome``, ``conclusion``) and ``runner``; the expression language covers
  literals (``'single-quoted'`` strings with ``''`` escapes, numbers, ``true``/``false``/
  ``null``), property access (``a.b``, ``a['b']``), ``!``, ``==``, ``!=``, ``<``, ``<=``, ``>``,
  ``>=`` with GitHub's loose comparison (strings case-insensitively, other mixes as numbers),
  ``&&``/``||`` returning an operand, parentheses, and the functions ``success()``,
  ``failure()``, ``always()``, ``cancelled()``, ``format()``, ``contains()``, ``startsWith()``,
  ``endsWith()``, ``join()``, ``toJSON()`` and ``fromJSON()``;
* evaluates ``if:`` (bare expression or ``${{ }}``; an implicit ``success() &&`` unless a status
  function is used) and ``continue-on-error``;
* runs each ``run:`` step as a script file with its declared shell — ``bash`` as
  ``bash --noprofile --norc -eo pipefail {0}``, ``sh`` as ``sh -e {0}``, ``python`` as
  ``python {0}`` and custom ``command ... {0}`` templates — in order, in ``working-directory``
  (relative to ``GITHUB_WORKSPACE``), with the step's ``env`` over the caller's ``env``;
* provides per-step ``GITHUB_OUTPUT``, ``GITHUB_ENV``, ``GITHUB_PATH`` and ``GITHUB_STEP_SUMMARY``
  files and applies them as the runner does (``name=value`` and ``name<<DELIM`` forms; ENV and
  PATH changes reach the following steps; summaries are concatenated), plus ``GITHUB_WORKSPACE``,
  ``GITHUB_ACTION_PATH``, ``GITHUB_EVENT_PATH``, ``GITHUB_EVENT_NAME``, ``GITHUB_SHA``,
  ``GITHUB_REF``, ``GITHUB_REPOSITORY``, ``RUNNER_TEMP``, ``CI`` and ``GITHUB_ACTIONS``;
* collects the action's outputs, each step's outcome and log, and the workflow commands the
  steps print (``::error file=…,line=…,title=…::message`` and friends), honouring
  ``::stop-commands::TOKEN`` … ``::TOKEN::``.

What it does not emulate: ``uses:`` steps other than ``actions/setup-python`` (no JavaScript,
Docker or nested composite actions are run; setup-python is *not* run either: it is treated as
satisfied by a given interpreter, which becomes its ``python-path`` output and, unless
``update-environment: false``, the front of ``PATH``); containers and services; the job's other
steps; secret masking (``::add-mask::`` is recorded, nothing is masked); ``GITHUB_STATE`` and
``post:`` steps; ``timeout-minutes``; cancellation; expression functions not listed above
(``hashFiles`` and others raise); object filters (``a.*.b``); ``runner`` beyond ``os``/``temp``;
``env`` set by a workflow or job (pass it as the caller's ``env``); the runner's own log
format, grouping and echoing. (As on GitHub, after a failing step only steps whose ``if:``
uses ``failure()`` or ``always()`` run, unless the failing step has ``continue-on-error``.)
It brings no package cache or index: scripts that download need the network, so the tests
seed the venv the action's install step reuses (see tests/action/test_action.py).
It is a test double for the runner only: it proves ``action.yml`` wires inputs, scripts and
outputs correctly, not that GitHub will accept every construct (actionlint and the metadata
schema in this folder check that side).
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import subprocess
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ActionResult",
    "Annotation",
    "ExpressionError",
    "StepResult",
    "evaluate",
    "interpolate",
    "pull_request_event",
    "run_action",
]


class ExpressionError(ValueError):
    """An expression the harness cannot parse or evaluate."""


# -- expressions ------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>0x[0-9a-fA-F]+|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<str>'(?:[^']|'')*')
      | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\].,])
      | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ExpressionError(f"cannot read expression at {text[pos:]!r} in {text!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


STATUS_FUNCTIONS = frozenset({"success", "failure", "always", "cancelled"})


def _truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return not (value == 0 or math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def _to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return math.nan
    return math.nan


def _loose_equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return a is b
    if type(a) is type(b) and not isinstance(a, str):
        return bool(a == b)
    return _to_number(a) == _to_number(b)


def to_string(value: Any) -> str:
    """How the runner turns an expression value into text."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2)
    return str(value)


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        if isinstance(key, str):
            for k, v in value.items():  # property names are case-insensitive
                if k.casefold() == key.casefold():
                    return v
        return None
    if isinstance(value, list):
        n = _to_number(key)
        if not math.isnan(n) and n.is_integer() and 0 <= int(n) < len(value):
            return value[int(n)]
    return None


def _format(fmt: Any, *args: Any) -> str:
    text = to_string(fmt)

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        i = int(m.group(1))
        if i >= len(args):
            raise ExpressionError(f"format(): no argument {i} for {text!r}")
        return to_string(args[i])

    return re.sub(r"\{\{|\}\}|\{(\d+)\}", sub, text)


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return any(_loose_equal(item, needle) for item in haystack)
    return to_string(needle).casefold() in to_string(haystack).casefold()


class _Parser:
    """Recursive descent over GitHub's expression grammar (precedence: ! > comparison > && > ||)."""

    def __init__(self, text: str, ctx: Mapping[str, Any], status: Mapping[str, bool]) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.ctx = ctx
        self.status = status

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise ExpressionError(f"expected {value or 'more'} in {self.text!r}")
        self.i += 1
        return tok

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()[1]!r} in {self.text!r}")  # type: ignore[index]
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if _truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.compare()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.compare()
            value = right if _truthy(value) else value
        return value

    def compare(self) -> Any:
        value = self.unary()
        while (tok := self.peek()) is not None and tok[1] in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            right = self.unary()
            op = tok[1]
            if op == "==":
                value = _loose_equal(value, right)
            elif op == "!=":
                value = not _loose_equal(value, right)
            else:
                if isinstance(value, str) and isinstance(right, str):
                    a: Any = value.casefold()
                    b: Any = right.casefold()
                else:
                    a, b = _to_number(value), _to_number(right)
                value = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not _truthy(self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while (tok := self.peek()) is not None and tok[1] in (".", "["):
            self.take()
            if tok[1] == ".":
                kind, name = self.take()
                if kind != "name":
                    raise ExpressionError(f"expected a property name after '.' in {self.text!r}")
                value = _index(value, name)
            else:
                key = self.or_()
                self.take("]")
                value = _index(value, key)
        return value

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "op" and text == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind == "name":
            lowered = text.lower()
            if self.peek() == ("op", "("):
                self.take()
                args: list[Any] = []
                if self.peek() != ("op", ")"):
                    args.append(self.or_())
                    while self.peek() == ("op", ","):
                        self.take()
                        args.append(self.or_())
                self.take(")")
                return self.call(lowered, args)
            if lowered in ("true", "false"):
                return lowered == "true"
            if lowered == "null":
                return None
            for key, value in self.ctx.items():
                if key.casefold() == lowered:
                    return value
            raise ExpressionError(f"unknown context {text!r} in {self.text!r}")
        raise ExpressionError(f"unexpected {text!r} in {self.text!r}")

    def call(self, name: str, args: list[Any]) -> Any:
        if name in STATUS_FUNCTIONS:
            if args:
                raise ExpressionError(f"{name}() takes no arguments")
            return self.status[name]
        functions: dict[str, Callable[..., Any]] = {
            "format": _format,
            "contains": _contains,
            "startswith": lambda a, b: to_string(a).casefold().startswith(to_string(b).casefold()),
            "endswith": lambda a, b: to_string(a).casefold().endswith(to_string(b).casefold()),
            "join": lambda a, sep=",": (
                to_string(sep).join(to_string(x) for x in a) if isinstance(a, list) else to_string(a)
            ),
            "tojson": lambda a: json.dumps(a, indent=2),
            "fromjson": lambda a: json.loads(to_string(a)),
        }
        if name not in functions:
            raise ExpressionError(f"the harness does not implement the function {name}()")
        return functions[name](*args)


def evaluate(expr: str, ctx: Mapping[str, Any], status: Mapping[str, bool] | None = None) -> Any:
    """Evaluate one expression (the text inside ``${{ }}``) over the contexts ``ctx``."""
    flags = status or {"success": True, "failure": False, "always": True, "cancelled": False}
    return _Parser(expr, ctx, flags).parse()


_EMBEDDED = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def interpolate(text: Any, ctx: Mapping[str, Any], status: Mapping[str, bool] | None = None) -> str:
    """Replace every ``${{ expr }}`` in ``text`` with its value as text (non-strings as YAML gave them)."""
    if not isinstance(text, str):
        return to_string(text)
    return _EMBEDDED.sub(lambda m: to_string(evaluate(m.group(1), ctx, status)), text)


def _condition(raw: Any, ctx: Mapping[str, Any], status: Mapping[str, bool]) -> bool:
    if raw is None:
        return status["success"]
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip()
    m = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.DOTALL)
    if m:
        text = m.group(1).strip()
    elif "${{" in text:  # mixed literal text: the runner evaluates it as a string (always truthy)
        return _truthy(interpolate(text, ctx, status))
    uses_status = any(kind == "name" and tok.lower() in STATUS_FUNCTIONS for kind, tok in _tokens(text))
    if not uses_status:
        text = f"success() && ({text})"
    return _truthy(evaluate(text, ctx, status))


# -- workflow command files and log lines ------------------------------------------------------


def parse_key_values(text: str) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT / GITHUB_ENV file: ``name=value`` lines and ``name<<DELIM`` blocks."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r")
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            body: list[str] = []
            while i < len(lines) and lines[i].rstrip("\r") != delim:
                body.append(lines[i].rstrip("\r"))
                i += 1
            if i >= len(lines):
                raise ValueError(f"unterminated {name}<<{delim} block")
            i += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        else:
            raise ValueError(f"invalid line in a command file: {line!r}")
    return values


def _unescape_data(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _unescape_property(text: str) -> str:
    return _unescape_data(text.replace("%3A", ":").replace("%2C", ","))


@dataclass(frozen=True)
class Annotation:
    """One workflow command from the log (``error``, ``warning``, ``notice``, ``add-mask`` …)."""

    command: str
    message: str
    properties: Mapping[str, str] = field(default_factory=dict)
    raw: str = ""

    @property
    def file(self) -> str | None:
        return self.properties.get("file")

    @property
    def line(self) -> int | None:
        value = self.properties.get("line")
        return int(value) if value is not None else None

    @property
    def title(self) -> str | None:
        return self.properties.get("title")


_COMMAND = re.compile(r"^::([A-Za-z-]+)(?: ([^:]*))?::(.*)$")


def parse_commands(log: str) -> list[Annotation]:
    """The workflow commands in ``log``, skipping ``::stop-commands::`` regions as the runner does."""
    found: list[Annotation] = []
    stop_token: str | None = None
    for line in log.splitlines():
        stripped = line.strip()
        if stop_token is not None:
            if stripped == f"::{stop_token}::":
                stop_token = None
            continue
        m = _COMMAND.match(stripped)
        if m is None:
            continue
        command, props_text, message = m.group(1), m.group(2) or "", m.group(3)
        if command == "stop-commands":
            stop_token = message
            continue
        props: dict[str, str] = {}
        for part in props_text.split(","):
            if "=" in part:
                key, value = part.split("=", 1)
                props[key.strip()] = _unescape_property(value)
        found.append(Annotation(command, _unescape_data(message), props, line))
    return found


# -- running --------------------------------------------------------------------------------------


@dataclass
class StepResult:
    """What one step did."""

    name: str
    id: str | None
    outcome: str  # success | failure | skipped
    conclusion: str
    outputs: dict[str, str] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None


@dataclass
class ActionResult:
    """The action's outputs, status, log, annotations and job summary."""

    outputs: dict[str, str]
    conclusion: str  # success | failure
    steps: list[StepResult]
    summary: str
    env: dict[str, str]

    @property
    def stdout(self) -> str:
        return "".join(s.stdout for s in self.steps)

    @property
    def log(self) -> str:
        return "".join(s.stdout + s.stderr for s in self.steps)

    @property
    def annotations(self) -> list[Annotation]:
        return [a for s in self.steps for a in parse_commands(s.stdout + "\n" + s.stderr)]

    def step(self, step_id: str) -> StepResult:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)


def pull_request_event(
    *,
    number: int,
    base_sha: str,
    base_ref: str,
    head_sha: str,
    head_ref: str,
    repository: str = "acme/governed",
    default_branch: str = "main",
    action: str = "synchronize",
) -> dict[str, Any]:
    """A ``pull_request`` webhook payload with the fields workflows commonly read."""
    owner, name = repository.split("/", 1)
    repo = {
        "id": 4242,
        "name": name,
        "full_name": repository,
        "private": True,
        "owner": {"login": owner, "type": "Organization"},
        "html_url": f"https://github.com/{repository}",
        "clone_url": f"https://github.com/{repository}.git",
        "default_branch": default_branch,
        "fork": False,
    }
    user = {"login": "ada", "id": 1, "type": "User"}
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "state": "open",
            "title": f"change {number}",
            "user": user,
            "html_url": f"https://github.com/{repository}/pull/{number}",
            "draft": False,
            "merged": False,
            "head": {
                "label": f"{owner}:{head_ref}",
                "ref": head_ref,
                "sha": head_sha,
                "repo": repo,
                "user": user,
            },
            "base": {
                "label": f"{owner}:{base_ref}",
                "ref": base_ref,
                "sha": base_sha,
                "repo": repo,
                "user": user,
            },
        },
        "repository": repo,
        "sender": user,
    }


_SETUP_PYTHON = re.compile(r"^actions/setup-python@", re.IGNORECASE)
_KEEP_ENV = ("HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "TZ")


def _shell_command(shell: str, script: Path) -> list[str]:
    if shell == "bash":
        return ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
    if shell == "sh":
        return ["sh", "-e", str(script)]
    if shell == "python":
        return ["python", str(script)]
    if shell == "pwsh" or shell == "powershell" or shell == "cmd":
        raise NotImplementedError(f"the harness does not run shell {shell!r}")
    if "{0}" in shell:
        return [part.replace("{0}", str(script)) for part in shlex.split(shell)]
    raise ExpressionError(f"unknown shell {shell!r} (a custom shell needs a {{0}} placeholder)")


def _which(name: str, path: str) -> str:
    for folder in path.split(os.pathsep):
        candidate = Path(folder) / name
        if folder and candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise FileNotFoundError(f"{name} not found on the step's PATH")


def run_action(
    action_dir: Path,
    *,
    workspace: Path,
    runner_temp: Path,
    inputs: Mapping[str, str] | None = None,
    event: Mapping[str, Any] | None = None,
    event_name: str = "pull_request",
    env: Mapping[str, str] | None = None,
    python: str,
    sha: str | None = None,
    ref: str | None = None,
    timeout: float = 300,
) -> ActionResult:
    """Run the composite action in ``action_dir`` as a step of a job.

    ``workspace`` is ``GITHUB_WORKSPACE`` (the checkout), ``runner_temp`` ``RUNNER_TEMP``;
    ``inputs`` is the step's ``with:``; ``env`` the step's ``env:`` (plus whatever job env the
    test wants); ``python`` the interpreter ``actions/setup-python`` is taken to provide.
    """
    action_dir = Path(action_dir).resolve()
    meta_path = action_dir / "action.yml"
    if not meta_path.exists():
        meta_path = action_dir / "action.yaml"
    meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
    runs = meta.get("runs") or {}
    if runs.get("using") != "composite":
        raise NotImplementedError(f"only composite actions are run, not {runs.get('using')!r}")

    given = dict(inputs or {})
    declared: dict[str, Any] = meta.get("inputs") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ValueError(f"unexpected inputs {unknown} (the runner warns; the harness refuses)")
    payload = dict(event or {})
    workspace = Path(workspace).resolve()
    runner_temp = Path(runner_temp).resolve()
    runner_temp.mkdir(parents=True, exist_ok=True)
    files = runner_temp / "_harness"
    files.mkdir(exist_ok=True)
    event_path = files / "event.json"
    event_path.write_text(json.dumps(payload, indent=2), encoding="utf-8")

    repository = str((payload.get("repository") or {}).get("full_name") or "acme/governed")
    number = payload.get("number")
    ref = ref or (f"refs/pull/{number}/merge" if event_name.startswith("pull_request") else "refs/heads/main")
    sha = sha or ""
    github = {
        "action_path": str(action_dir),
        "action": "__ftpolicy",
        "event": payload,
        "event_name": event_name,
        "event_path": str(event_path),
        "repository": repository,
        "repository_owner": repository.split("/")[0],
        "ref": ref,
        "sha": sha,
        "workspace": str(workspace),
        "run_id": "1",
        "run_number": "1",
        "server_url": "https://github.com",
        "api_url": "https://api.github.com",
        "actor": "ada",
        "job": "ftpolicy",
        "head_ref": ((payload.get("pull_request") or {}).get("head") or {}).get("ref", ""),
        "base_ref": ((payload.get("pull_request") or {}).get("base") or {}).get("ref", ""),
    }
    inputs_ctx: dict[str, str] = {}
    base_env: dict[str, str] = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
    base_env.update({k: v for k, v in os.environ.items() if k.startswith("GIT_")})
    base_env["PATH"] = os.environ.get("PATH", os.defpath)
    base_env.update(
        {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_ACTION_PATH": str(action_dir),
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_REPOSITORY": repository,
            "GITHUB_SHA": sha,
            "GITHUB_REF": ref,
            "GITHUB_HEAD_REF": github["head_ref"],
            "GITHUB_BASE_REF": github["base_ref"],
            "RUNNER_TEMP": str(runner_temp),
            "RUNNER_OS": "Linux",
        }
    )
    base_env.update(env or {})
    path_prepend: list[str] = []
    ctx: dict[str, Any] = {
        "github": github,
        "env": dict(base_env),
        "steps": {},
        "runner": {"os": "Linux", "temp": str(runner_temp)},
    }
    for name, spec in declared.items():
        spec = spec or {}
        if name in given:
            inputs_ctx[name] = to_string(given[name])
        elif "default" in spec:
            inputs_ctx[name] = interpolate(spec["default"], ctx)
        elif spec.get("required"):
            raise ValueError(f"input {name!r} is required")
        else:
            inputs_ctx[name] = ""
    ctx["inputs"] = inputs_ctx

    results: list[StepResult] = []
    failed = False
    summary_parts: list[str] = []
    for index, step in enumerate(runs.get("steps") or []):
        status = {"success": not failed, "failure": failed, "always": True, "cancelled": False}
        step_id = step.get("id")
        name = str(step.get("name") or step.get("run") or step.get("uses") or f"step {index}")
        if not _condition(step.get("if"), ctx, status):
            res = StepResult(name, step_id, "skipped", "skipped")
            results.append(res)
            if step_id:
                ctx["steps"][step_id] = {"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}
            continue
        step_env = dict(base_env)
        step_env["PATH"] = os.pathsep.join([*path_prepend, base_env["PATH"]])
        for key, value in (step.get("env") or {}).items():
            step_env[key] = interpolate(value, ctx, status)
        if "uses" in step:
            res = _run_uses(step, name, step_id, ctx, status, python, path_prepend)
        else:
            res, files_out = _run_script(
                step, name, step_id, ctx, status, step_env, files, workspace, timeout
            )
            # The runner applies the command files of finished steps, failed ones included.
            base_env.update(files_out.env)
            ctx["env"] = dict(base_env)
            for folder in files_out.path:
                path_prepend.insert(0, folder)
            summary_parts.append(files_out.summary)
        raw_coe = step.get("continue-on-error", False)
        continue_on_error = (
            _truthy(raw_coe)
            if not isinstance(raw_coe, str)
            else _truthy(evaluate(raw_coe.strip().removeprefix("${{").removesuffix("}}"), ctx, status))
        )
        if res.outcome == "failure":
            if continue_on_error:
                res.conclusion = "success"
            else:
                failed = True
        results.append(res)
        if step_id:
            ctx["steps"][step_id] = {
                "outputs": res.outputs,
                "outcome": res.outcome,
                "conclusion": res.conclusion,
            }

    status = {"success": not failed, "failure": failed, "always": True, "cancelled": False}
    outputs = {
        name: interpolate((spec or {}).get("value", ""), ctx, status)
        for name, spec in (meta.get("outputs") or {}).items()
    }
    return ActionResult(
        outputs=outputs,
        conclusion="failure" if failed else "success",
        steps=results,
        summary="".join(summary_parts),
        env=dict(base_env),
    )


def _run_uses(
    step: Mapping[str, Any],
    name: str,
    step_id: str | None,
    ctx: Mapping[str, Any],
    status: Mapping[str, bool],
    python: str,
    path_prepend: list[str],
) -> StepResult:
    uses = str(step["uses"])
    if not _SETUP_PYTHON.match(uses):
        raise NotImplementedError(f"the harness cannot run uses: {uses}")
    with_ = {k: interpolate(v, ctx, status) for k, v in (step.get("with") or {}).items()}
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    wanted = with_.get("python-version", "")
    if wanted and not (version == wanted or version.startswith(wanted + ".")):
        raise RuntimeError(f"setup-python asked for {wanted!r}; the harness interpreter is {version}")
    if with_.get("update-environment", "true").lower() != "false":
        path_prepend.insert(0, str(Path(python).parent))
    outputs = {"python-path": python, "python-version": version}
    return StepResult(
        name, step_id, "success", "success", outputs, stdout=f"(harness) setup-python: {python}\n"
    )


@dataclass(frozen=True)
class _CommandFiles:
    env: dict[str, str]
    path: list[str]
    summary: str


def _run_script(
    step: Mapping[str, Any],
    name: str,
    step_id: str | None,
    ctx: Mapping[str, Any],
    status: Mapping[str, bool],
    step_env: dict[str, str],
    files: Path,
    workspace: Path,
    timeout: float,
) -> tuple[StepResult, _CommandFiles]:
    if "shell" not in step:
        raise ValueError(f"step {name!r}: composite run steps must declare shell")
    shell = str(step["shell"])
    script_text = interpolate(step["run"], ctx, status)
    tag = uuid.uuid4().hex
    suffix = ".py" if shell == "python" else (".sh" if shell in ("bash", "sh") else "")
    script = files / f"{tag}{suffix}"
    script.write_text(script_text, encoding="utf-8")
    command_files = {
        key: files / f"{key.lower()}_{tag}"
        for key in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")
    }
    for key, path in command_files.items():
        path.write_text("", encoding="utf-8")
        step_env[key] = str(path)
    cwd = workspace
    if step.get("working-directory"):
        cwd = workspace / interpolate(step["working-directory"], ctx, status)
    argv = _shell_command(shell, script)
    if argv[0] in ("python", "bash", "sh"):
        argv[0] = _which(argv[0], step_env["PATH"])
    proc = subprocess.run(
        argv, cwd=cwd, env=step_env, capture_output=True, text=True, timeout=timeout, check=False
    )
    outputs = parse_key_values(command_files["GITHUB_OUTPUT"].read_text(encoding="utf-8"))
    outcome = "success" if proc.returncode == 0 else "failure"
    res = StepResult(name, step_id, outcome, outcome, outputs, proc.stdout, proc.stderr, proc.returncode)
    path_lines = command_files["GITHUB_PATH"].read_text(encoding="utf-8").splitlines()
    out = _CommandFiles(
        env=parse_key_values(command_files["GITHUB_ENV"].read_text(encoding="utf-8")),
        path=[line.strip() for line in path_lines if line.strip()],
        summary=command_files["GITHUB_STEP_SUMMARY"].read_text(encoding="utf-8"),
    )
    return res, out
