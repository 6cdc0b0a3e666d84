"""The ``embedded`` engine: Rego evaluated in-process by regopy (rego-cpp), no binary needed.

regopy differs from OPA 1.x in ways that would turn a denial into a pass, so this engine adds
what it lacks and refuses what it cannot do faithfully (see ``_rego_source``):

* Rego v0 syntax and modules without a package are refused before regopy sees them;
* calls to built-ins regopy lacks or gets wrong are refused by name, with file:line;
* an undefined result, regopy's message-less ``<error>`` and its "Function not found" are
  raised as :class:`EvaluationError`, never returned;
* regopy's log level is NONE so it never writes to stdout, and output of Rego ``print()`` is
  captured (regopy writes it to the process's stdout) and forwarded to stderr.

Compiled policy sets are cached per :attr:`PolicySet.digest`: the modules are compiled once into
a regopy bundle with one entry point per queried reference, and later queries only set the input.

The input is handed over value by value through regopy's input builder (``_native_input``)
rather than as JSON text: regopy parses JSON at about half a megabyte a second, the builder
is three times faster, and strings reach it as UTF-8 with no escapes to misread. A value the
builder cannot take (a non-finite float, an integer beyond 64 bits, a type JSON does not
have) falls back to the JSON path, which reports it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ftpolicy.errors import EvaluationError, Location
from ftpolicy.policy.engines import _rego_source as rs
from ftpolicy.policy.engines.interface import PolicyEngine, UndefinedResult, query_path
from ftpolicy.policy.engines.policyset import PolicySet

__all__ = ["EmbeddedEngine"]

_CACHE_SIZE = 8
_NO_DETAIL_HINT = (
    "regopy gives no detail for this error; usual causes are a complete rule or function that "
    "produces two different values, or (strict built-in errors) a built-in that fails, such as a "
    "division by zero or a type error. Evaluate with --engine opa, or `opa eval`, to see OPA's message"
)


@dataclass
class _Prepared:
    """A compiled policy set: the interpreter holding the modules and its bundle."""

    policy_set: PolicySet
    builder: Any  # regopy.Interpreter with the modules and data added
    captures_print: bool
    bundle: Any = None  # regopy.Bundle compiled for ``entrypoints``
    entrypoints: list[str] = field(default_factory=list)
    runner: Any = None  # interpreter used to evaluate with an input
    bare_runner: Any = None  # interpreter that never had an input (input is undefined)
    lock: threading.Lock = field(default_factory=threading.Lock)


class EmbeddedEngine(PolicyEngine):
    """In-process Rego evaluation with regopy.

    ``strict_builtin_errors`` makes a failing built-in (division by zero, a type error, a
    malformed argument) an evaluation error instead of an undefined expression; OPA's server
    gets the same setting, so both engines decide alike.
    """

    name = "embedded"

    def __init__(self, *, strict_builtin_errors: bool = True) -> None:
        import regopy

        self._regopy = regopy
        self.strict_builtin_errors = strict_builtin_errors
        self._cache: OrderedDict[str, _Prepared] = OrderedDict()
        self._cache_lock = threading.Lock()
        #: Text printed by Rego print() during the last query (empty when none).
        self.last_print_output = ""

    # -- public API -------------------------------------------------------------------------

    def version(self) -> str:
        """``regopy <version>``."""
        return f"regopy {self._regopy.__version__}"

    def prepare(self, policy_set: PolicySet, queries: list[str]) -> None:
        """Check and compile ``policy_set`` with entry points for all ``queries`` at once."""
        prepared = self._prepared(policy_set)
        with prepared.lock:
            self._ensure_entrypoints(prepared, [self._entrypoint(q) for q in queries])

    def query(self, policy_set: PolicySet, query: str, input: Any = None) -> Any:
        """Evaluate ``query`` against ``input`` (``None``: no input document)."""
        entrypoint = self._entrypoint(query)
        prepared = self._prepared(policy_set)
        with prepared.lock:
            self._ensure_entrypoints(prepared, [entrypoint])
            runner = self._runner(prepared, with_input=input is not None)
            if input is not None:
                self._set_input(runner, input)
            ok, text = self._evaluate(prepared, runner, entrypoint)
        return _interpret(ok, text, query)

    def _set_input(self, runner: Any, value: Any) -> None:
        from regopy import rego_shared as native

        handle = _native_input(value)
        try:
            if handle is not None:
                native.rego_set_input(runner._impl, handle)
                return
            runner.set_input_term(_input_term(value))
        except self._regopy.RegoError as exc:
            raise EvaluationError(
                f"the embedded engine could not read the policy input: {_messages(str(exc))}",
                code="policy.input",
            ) from None
        finally:
            if handle is not None:
                native.rego_free_input(handle)

    # -- preparation ------------------------------------------------------------------------

    @staticmethod
    def _entrypoint(query: str) -> str:
        return "/".join(query_path(query))

    def _prepared(self, policy_set: PolicySet) -> _Prepared:
        digest = policy_set.digest
        with self._cache_lock:
            cached = self._cache.get(digest)
            if cached is not None:
                self._cache.move_to_end(digest)
                return cached
        prepared = self._compile(policy_set)
        with self._cache_lock:
            self._cache[digest] = prepared
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return prepared

    def _new_interpreter(self) -> Any:
        interpreter = self._regopy.Interpreter()
        interpreter.log_level = self._regopy.LogLevel.NONE
        interpreter.strict_built_in_errors = self.strict_builtin_errors
        return interpreter

    def _compile(self, policy_set: PolicySet) -> _Prepared:
        captures_print = False
        for name, source in policy_set.modules.items():
            captures_print = _check_source(name, source) or captures_print
        builder = self._new_interpreter()
        for name, source in policy_set.modules.items():
            try:
                builder.add_module(name, source)
            except self._regopy.RegoError as exc:
                raise _compile_error(str(exc), policy_set) from None
        if policy_set.data:
            try:
                builder.add_data_json(json.dumps(policy_set.data, ensure_ascii=False))
            except self._regopy.RegoError as exc:  # pragma: no cover - data is JSON we produced
                raise EvaluationError(
                    f"the embedded engine refused the policy data: {_messages(str(exc))}",
                    code="policy.compile",
                ) from None
        return _Prepared(policy_set=policy_set, builder=builder, captures_print=captures_print)

    def _ensure_entrypoints(self, prepared: _Prepared, entrypoints: list[str]) -> None:
        missing = [e for e in dict.fromkeys(entrypoints) if e not in prepared.entrypoints]
        if not missing:
            return
        try:
            # Entry points accumulate on the interpreter: each build covers all of them.
            bundle = prepared.builder.build(None, missing)
        except self._regopy.RegoError as exc:
            raise _compile_error(str(exc), prepared.policy_set) from None
        if not bundle.ok():  # pragma: no cover - build raises on errors in regopy 1.5.2
            raise EvaluationError("the embedded engine could not compile the policies", code="policy.compile")
        prepared.bundle = bundle
        prepared.entrypoints.extend(missing)

    def _runner(self, prepared: _Prepared, *, with_input: bool) -> Any:
        if with_input:
            if prepared.runner is None:
                prepared.runner = self._new_interpreter()
            return prepared.runner
        if prepared.bare_runner is None:
            prepared.bare_runner = self._new_interpreter()
        return prepared.bare_runner

    def _evaluate(self, prepared: _Prepared, runner: Any, entrypoint: str) -> tuple[bool, str]:
        from regopy import rego_shared as native

        def run() -> tuple[bool, str]:
            out = native.rego_bundle_query_entrypoint(runner._impl, prepared.bundle._impl, entrypoint)
            try:
                return bool(native.rego_output_ok(out)), str(native.rego_output_string(out))
            finally:
                native.rego_free_output(out)

        if not prepared.captures_print:
            self.last_print_output = ""
            return run()
        result, printed = _with_stdout_captured(run)
        self.last_print_output = printed
        if printed:
            sys.stderr.write(printed)
            sys.stderr.flush()
        return result


# -- helpers ----------------------------------------------------------------------------------


_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _native_input(value: Any) -> Any:
    """``value`` built in regopy's input builder, or None when it holds something JSON lacks.

    Only the JSON types are taken (dict with str keys, list, str, int within 64 bits, finite
    float, bool, None); anything else returns None so the JSON path reports it. The caller
    frees the handle. Strings go in as the JSON path leaves them inside regopy: regopy keeps
    a string's JSON escapes (``\\"``, ``\\\\``, control characters) and decodes them only on
    output, so a string holding a quote, a backslash or a control character is escaped first.
    """
    from regopy import rego_shared as native

    lib = native.rego
    handle = lib.regoNewInput()
    put_str, put_int, put_float = lib.regoInputString, lib.regoInputInt, lib.regoInputFloat
    put_bool, put_null, put_item = lib.regoInputBoolean, lib.regoInputNull, lib.regoInputObjectItem
    put_object, put_array = lib.regoInputObject, lib.regoInputArray
    status = 0
    needs_escape = _NEEDS_ESCAPE.search
    dumps = json.dumps

    def text(v: str) -> bytes:
        if needs_escape(v):
            v = dumps(v, ensure_ascii=False)[1:-1]
        return v.encode("utf-8")

    def add(v: Any) -> None:
        nonlocal status
        t = type(v)
        if t is str:
            status |= put_str(handle, text(v))
        elif t is dict:
            for k, x in v.items():
                if type(k) is not str:
                    raise TypeError("object key is not a string")
                status |= put_str(handle, text(k))
                add(x)
                status |= put_item(handle)
            status |= put_object(handle, len(v))
        elif t is list:
            for x in v:
                add(x)
            status |= put_array(handle, len(v))
        elif t is bool:
            status |= put_bool(handle, v)
        elif t is int:
            if not -(2**63) <= v < 2**63:
                raise OverflowError("integer beyond 64 bits")
            status |= put_int(handle, v)
        elif t is float:
            if v != v or v in (float("inf"), float("-inf")):
                raise ValueError("non-finite number")
            status |= put_float(handle, v)
        elif v is None:
            status |= put_null(handle)
        else:
            raise TypeError(f"{t.__name__} is not a JSON type")

    try:
        add(value)
    except (TypeError, ValueError, OverflowError, RecursionError, UnicodeEncodeError):
        native.rego_free_input(handle)
        return None
    if status != 0:
        native.rego_free_input(handle)
        return None
    return handle


def _input_term(value: Any) -> str:
    try:
        # ensure_ascii=False: regopy keeps \uXXXX escapes of input strings undecoded.
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise EvaluationError(
            f"the policy input is not a JSON value: {exc}",
            hint="this is a bug in the code that built the input document",
            code="policy.input",
        ) from None


def _check_source(name: str, source: str) -> bool:
    """Refuse what regopy would mis-evaluate; return whether the module calls print()."""
    try:
        tokens = rs.tokenize(source)
    except rs.LexError as exc:
        raise EvaluationError(
            f"policy does not parse: {exc.message}",
            location=Location(name, exc.line, exc.col),
            code="policy.compile",
        ) from None
    if rs.module_package(tokens) is None:
        first = next((t for t in tokens if t.kind != "newline"), None)
        raise EvaluationError(
            "policy module must start with a package declaration (package a.b.c)",
            location=Location(name, first.line if first else 1),
            code="policy.compile",
        )
    problems = rs.v1_syntax_problems(tokens)
    if problems:
        first_problem = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise EvaluationError(
            f"Rego v0 syntax: {first_problem.message}{more}",
            hint="OPA 1.x accepts only Rego v1: write `deny contains msg if { ... }` and `allow if { ... }`; "
            "`opa fmt --write --v0-v1 FILE` rewrites a file",
            location=Location(name, first_problem.line, first_problem.col),
            code="policy.v0-syntax",
        )
    constructs = rs.unsupported_constructs(tokens)
    if constructs:
        raise EvaluationError(
            f"{constructs[0].message}; the embedded engine cannot evaluate this policy",
            hint=f"{constructs[0].hint}, or evaluate with --engine opa",
            location=Location(name, constructs[0].line, constructs[0].col),
            code="policy.unsupported",
        )
    unsupported = rs.unsupported_calls(tokens)
    if unsupported:
        builtin, problem = unsupported[0]
        raise EvaluationError(
            f"{problem.message}; the embedded engine cannot evaluate this policy",
            hint=f"avoid {builtin} in policies, or evaluate with --engine opa (a real OPA server)",
            location=Location(name, problem.line, problem.col),
            code="policy.unsupported-builtin",
        )
    return rs.uses_print(tokens)


def _with_stdout_captured(fn: Any) -> tuple[Any, str]:
    """Run ``fn`` with file descriptor 1 pointing at a temporary file; return (result, text)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            result = fn()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        sink.seek(0)
        printed = sink.read().decode("utf-8", errors="replace")
    return result, printed


_ERROR_HEAD = re.compile(rb"\(error(?: (\d+):)?")
_ERRORMSG = re.compile(rb"\(errormsg (\d+):")
_FUNCTION_NOT_FOUND = re.compile(r"Function not found: ([A-Za-z0-9_.]+)")


@dataclass(frozen=True)
class _RegoMessage:
    message: str
    file: str | None = None
    offset: int | None = None


def _parse_errors(text: str) -> list[_RegoMessage]:
    """The errors in a rego-cpp error tree (length-prefixed strings, byte offsets)."""
    raw = text.encode("utf-8")
    found: list[_RegoMessage] = []
    pos = 0
    while True:
        head = _ERROR_HEAD.search(raw, pos)
        if head is None:
            break
        pos = head.end()
        file: str | None = None
        offset: int | None = None
        if head.group(1) is not None:
            size = int(head.group(1))
            file = raw[pos : pos + size].decode("utf-8", errors="replace")
            pos += size
            where = re.match(rb"\|(\d+)\|(\d+)", raw[pos:])
            if where:
                offset = int(where.group(1))
                pos += where.end()
        msg = _ERRORMSG.search(raw, pos)
        if msg is None:
            break
        size = int(msg.group(1))
        message = raw[msg.end() : msg.end() + size].decode("utf-8", errors="replace")
        pos = msg.end() + size
        found.append(_RegoMessage(message, file, offset))
    return found


def _messages(text: str) -> str:
    parsed = _parse_errors(text)
    return "; ".join(m.message for m in parsed) if parsed else text.strip()


def _location(message: _RegoMessage, policy_set: PolicySet) -> Location | None:
    if message.file is None:
        return None
    source = policy_set.modules.get(message.file)
    if source is None or message.offset is None:
        return Location(message.file)
    before = source.encode("utf-8")[: message.offset]
    line = before.count(b"\n") + 1
    column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")) + 1
    return Location(message.file, line, column)


def _compile_error(text: str, policy_set: PolicySet) -> EvaluationError:
    parsed = _parse_errors(text)
    if not parsed:
        return EvaluationError(f"policy does not compile: {text.strip()}", code="policy.compile")
    first = parsed[0]
    more = f" (and {len(parsed) - 1} more errors)" if len(parsed) > 1 else ""
    return EvaluationError(
        f"policy does not compile: {first.message}{more}",
        hint="run `opa check --strict` on the policy folder for OPA's own diagnostics",
        location=_location(first, policy_set),
        code="policy.compile",
    )


def _interpret(ok: bool, text: str, query: str) -> Any:
    """Turn regopy's output string into the query's value or an EvaluationError."""
    stripped = text.strip()
    if stripped == "undefined":
        raise UndefinedResult(
            f"{query} is undefined (no rule produced a value)",
            hint="check the package and rule names, and that the rule has a default value",
        )
    if not ok or stripped.startswith("("):
        details = _messages(stripped) if stripped.startswith("(") else ""
        missing = _FUNCTION_NOT_FOUND.search(details)
        if missing:
            raise EvaluationError(
                f"evaluating {query} failed: unknown function {missing.group(1)}",
                hint="the function is neither defined by the policies nor a built-in the embedded engine "
                "provides; check its name, or evaluate with --engine opa",
                code="policy.unsupported-builtin",
            )
        if "Recursion detected" in details:
            raise EvaluationError(f"policy does not compile: {details}", code="policy.compile")
        if details and details != "<error>":
            raise EvaluationError(f"evaluating {query} failed: {details}", code="policy.evaluation")
        raise EvaluationError(
            f"evaluating {query} failed in the embedded engine (regopy reported an error without a message)",
            hint=_NO_DETAIL_HINT,
            code="policy.evaluation",
        )
    try:
        output = json.loads(stripped)
    except json.JSONDecodeError:
        raise EvaluationError(
            f"evaluating {query}: the embedded engine returned output that is not JSON: {stripped[:200]}",
            code="policy.evaluation",
        ) from None
    results = output if isinstance(output, list) else [output]
    if len(results) != 1 or not isinstance(results[0], dict) or len(results[0].get("expressions", [])) != 1:
        raise EvaluationError(
            f"evaluating {query}: unexpected result shape from the embedded engine: {stripped[:200]}",
            code="policy.evaluation",
        )
    return results[0]["expressions"][0]
