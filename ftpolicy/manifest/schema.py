"""JSON Schema (Draft 2020-12) validation with messages a person can act on."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from ftpolicy.manifest.yamlsafe import escape_pointer_token
from ftpolicy.resources import schemas_dir

SUPPORTED_SCHEMA_VERSIONS = (1,)

# kind -> schema file stem
KIND_SCHEMAS: dict[str, str] = {
    "config": "config",
    "identity": "identity",
    "teams": "teams",
    "dataset": "dataset",
    "eval-suite": "eval-suite",
    "adapter": "adapter",
    "registry": "registry",
}


@dataclass(frozen=True)
class Problem:
    """One schema violation: where (JSON pointer) and what, in words."""

    pointer: str
    message: str
    hint: str | None = None
    code: str = "manifest.schema"  # stable id for machine output (e.g. path.escape)


@cache
def _load_all() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(schemas_dir().glob("*.schema.json")):
        out[path.name] = json.loads(path.read_text(encoding="utf-8"))
    return out


def schema_for(name: str) -> dict[str, Any]:
    """The bundled schema document ``<name>.v1.schema.json``."""
    return _load_all()[f"{name}.v1.schema.json"]


_ANNOTATIONS = frozenset({"description", "title", "$comment", "examples", "default"})


def _inline_refs(schema: dict[str, Any], docs: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with every non-recursive ``$ref`` replaced by the schema it names.

    Resolving a reference costs jsonschema more than the check itself (URL joins, registry
    lookups); the manifests' schemas only refer to ``$defs`` of their own document and of
    common.v1, so the references are resolved once here. The referenced dict itself is put in
    place, so an error's ``schema`` (and its description) is the same as through ``$ref``;
    annotation siblings of a ``$ref`` are dropped (they never fail), other siblings stay beside an
    ``allOf``. A recursive or unresolvable reference is kept, made absolute.
    """
    from urllib.parse import urldefrag, urljoin

    def resolve(base: str, ref: str) -> tuple[str, Any] | None:
        uri, fragment = urldefrag(urljoin(base, ref))
        node = docs.get(uri)
        if node is None or (fragment and not fragment.startswith("/")):
            return None
        for token in fragment.split("/")[1:] if fragment else []:
            token = token.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or token not in node:
                return None
            node = node[token]
        return uri, node

    def walk(value: Any, base: str, stack: tuple[str, ...]) -> Any:
        if isinstance(value, list):
            return [walk(v, base, stack) for v in value]
        if not isinstance(value, dict):
            return value
        if isinstance(value.get("$id"), str):
            base = urljoin(base, value["$id"])
        ref = value.get("$ref")
        if isinstance(ref, str):
            absolute = urljoin(base, ref)
            found = resolve(base, ref)
            if found is None or absolute in stack:
                return {k: (absolute if k == "$ref" else walk(v, base, stack)) for k, v in value.items()}
            target = walk(found[1], found[0], (*stack, absolute))
            rest = {
                k: walk(v, base, stack) for k, v in value.items() if k != "$ref" and k not in _ANNOTATIONS
            }
            if not rest:
                return target
            rest["allOf"] = [*rest.get("allOf", []), target]
            return rest
        return {k: walk(v, base, stack) for k, v in value.items()}

    return walk(schema, str(schema.get("$id", "")), ())


@cache
def _validator(kind: str) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    resources = [(doc["$id"], Resource.from_contents(doc)) for doc in _load_all().values() if "$id" in doc]
    registry: Registry[Any] = Registry().with_resources(resources)
    docs = {doc["$id"]: doc for doc in _load_all().values() if "$id" in doc}
    return Draft202012Validator(
        _inline_refs(schema_for(KIND_SCHEMAS[kind]), docs),
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


_IGNORED = frozenset(
    {"$id", "$schema", "$comment", "$defs", "description", "title", "default", "examples", "deprecated"}
)
Check = Callable[[Any], bool]


class _Unsupported(Exception):
    """A schema keyword the fast checker does not implement (jsonschema alone is used)."""


def _compile(schema: Any, cls: Any) -> Check:
    """A function telling whether an instance is valid against ``schema`` (refs already inlined).

    It answers the yes/no question only, with jsonschema's own type checker, equality, format
    checker and regular-expression search, so its verdict is jsonschema's; building every
    problem's message is left to jsonschema, which runs only for invalid manifests. Any keyword
    not implemented here raises :class:`_Unsupported`.
    """
    from jsonschema._utils import equal, uniq

    types = cls.TYPE_CHECKER
    formats = cls.FORMAT_CHECKER

    def is_type(value: Any, name: str) -> bool:
        return bool(types.is_type(value, name))

    if schema is True:
        return lambda _v: True
    if schema is False:
        return lambda _v: False
    if not isinstance(schema, dict):
        raise _Unsupported(repr(schema))
    checks: list[Any] = []  # Check functions (lambdas binding their arguments as defaults)
    for key, arg in schema.items():
        if key in _IGNORED or key in ("then", "else"):
            continue
        if key == "type":
            names = [arg] if isinstance(arg, str) else list(arg)
            checks.append(lambda v, n=names: any(is_type(v, t) for t in n))
        elif key == "properties":
            subs = {k: _compile(sub, cls) for k, sub in arg.items()}
            checks.append(
                lambda v, subs=subs: (
                    not isinstance(v, dict) or all(c(v[k]) for k, c in subs.items() if k in v)
                )
            )
        elif key == "additionalProperties":
            if "patternProperties" in schema:
                raise _Unsupported(key)
            known = set(schema.get("properties", {}))
            extra = _compile(arg, cls)
            checks.append(
                lambda v, known=known, extra=extra: (
                    not isinstance(v, dict) or all(extra(x) for k, x in v.items() if k not in known)
                )
            )
        elif key == "required":
            checks.append(lambda v, req=list(arg): not isinstance(v, dict) or all(k in v for k in req))
        elif key == "items":
            if "prefixItems" in schema:
                raise _Unsupported(key)
            item = _compile(arg, cls)
            checks.append(lambda v, item=item: not isinstance(v, list) or all(item(x) for x in v))
        elif key == "const":
            checks.append(lambda v, c=arg: bool(equal(v, c)))
        elif key == "enum":
            checks.append(lambda v, e=list(arg): any(equal(each, v) for each in e))
        elif key == "uniqueItems":
            checks.append(lambda v, on=arg: not (on and isinstance(v, list)) or bool(uniq(v)))
        elif key == "pattern":
            rx = re.compile(arg)
            checks.append(lambda v, rx=rx: not is_type(v, "string") or rx.search(v) is not None)
        elif key == "format":
            checks.append(lambda v, f=arg: bool(formats.conforms(v, f)))
        elif key in ("minLength", "maxLength"):
            low = key == "minLength"
            checks.append(
                lambda v, n=arg, low=low: not is_type(v, "string") or (len(v) >= n if low else len(v) <= n)
            )
        elif key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            op = {
                "minimum": lambda a, b: a >= b,
                "maximum": lambda a, b: a <= b,
                "exclusiveMinimum": lambda a, b: a > b,
                "exclusiveMaximum": lambda a, b: a < b,
            }[key]
            checks.append(lambda v, n=arg, op=op: not is_type(v, "number") or op(v, n))
        elif key in ("minItems", "maxItems"):
            low = key == "minItems"
            checks.append(
                lambda v, n=arg, low=low: not isinstance(v, list) or (len(v) >= n if low else len(v) <= n)
            )
        elif key in ("minProperties", "maxProperties"):
            low = key == "minProperties"
            checks.append(
                lambda v, n=arg, low=low: not isinstance(v, dict) or (len(v) >= n if low else len(v) <= n)
            )
        elif key == "propertyNames":
            name = _compile(arg, cls)
            checks.append(lambda v, name=name: not isinstance(v, dict) or all(name(k) for k in v))
        elif key in ("allOf", "anyOf", "oneOf"):
            subs_list = [_compile(sub, cls) for sub in arg]
            if key == "allOf":
                checks.append(lambda v, s=subs_list: all(c(v) for c in s))
            elif key == "anyOf":
                checks.append(lambda v, s=subs_list: any(c(v) for c in s))
            else:
                checks.append(lambda v, s=subs_list: sum(1 for c in s if c(v)) == 1)
        elif key == "not":
            inner = _compile(arg, cls)
            checks.append(lambda v, inner=inner: not inner(v))
        elif key == "if":
            cond = _compile(arg, cls)
            then = _compile(schema["then"], cls) if "then" in schema else None
            other = _compile(schema["else"], cls) if "else" in schema else None

            def if_then_else(
                v: Any, cond: Check = cond, then: Check | None = then, other: Check | None = other
            ) -> bool:
                if cond(v):
                    return then is None or then(v)
                return other is None or other(v)

            checks.append(if_then_else)
        elif key in cls.VALIDATORS:
            raise _Unsupported(key)
        # Other keys are not keywords jsonschema knows: it ignores them too.
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(c(v) for c in checks)


@cache
def _fast_check(kind: str) -> Check | None:
    """The compiled yes/no check of ``kind``, or None when its schema uses other keywords."""
    validator = _validator(kind)
    try:
        return _compile(validator.schema, type(validator))
    except _Unsupported:
        return None


def _pointer(path: Any) -> str:
    return "".join(f"/{escape_pointer_token(p)}" for p in path)


def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


_JSON_TYPES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
    "null": "null",
}


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "null" if value is None else type(value).__name__


def _problems_for(error: Any) -> list[Problem]:
    """Turn one jsonschema error into one or more readable problems."""
    validator = error.validator
    pointer = _pointer(error.absolute_path)
    instance = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    if validator == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extras = [k for k in instance if k not in error.schema.get("properties", {})]
        return [
            Problem(
                f"{pointer}/{escape_pointer_token(k)}",
                f"unknown field '{k}'",
                f"allowed fields here: {', '.join(allowed)}" if allowed else None,
            )
            for k in extras
        ]
    if validator == "required":
        missing = [k for k in error.validator_value if isinstance(instance, dict) and k not in instance]
        where = f" in {pointer}" if pointer else ""
        return [
            Problem(
                pointer, f"missing required field '{k}'{where}", f"add '{k}:' (see schemas/ for its format)"
            )
            for k in missing
        ]
    if validator == "type":
        expected = error.validator_value
        names = [str(_JSON_TYPES.get(t, t)) for t in (expected if isinstance(expected, list) else [expected])]
        hint = None
        if "text" in names and isinstance(instance, int | float) and not isinstance(instance, bool):
            hint = f'quote the value so YAML keeps it as text: "{instance}"'
        return [
            Problem(
                pointer,
                f"expected {' or '.join(names)}, got {_type_name(instance)} {_describe(instance)}",
                hint,
            )
        ]
    if validator == "pattern":
        desc = schema.get("description")
        return [
            Problem(
                pointer,
                f"{_describe(instance)} has the wrong format"
                + (f": {desc}" if desc else f" (must match {error.validator_value})"),
            )
        ]
    if validator in ("minimum", "exclusiveMinimum"):
        return [
            Problem(
                pointer,
                f"{_describe(instance)} is too small (must be "
                f"{'>=' if validator == 'minimum' else '>'} {error.validator_value})",
            )
        ]
    if validator in ("maximum", "exclusiveMaximum"):
        return [
            Problem(
                pointer,
                f"{_describe(instance)} is too large (must be "
                f"{'<=' if validator == 'maximum' else '<'} {error.validator_value})",
            )
        ]
    if validator in ("enum", "const"):
        allowed_values = error.validator_value if validator == "enum" else [error.validator_value]
        return [
            Problem(
                pointer,
                f"{_describe(instance)} is not allowed here; use one of: "
                + ", ".join(_describe(v) for v in allowed_values),
            )
        ]
    if validator == "format":
        return [
            Problem(
                pointer,
                f"{_describe(instance)} is not a valid {error.validator_value}"
                + (f" ({schema.get('description')})" if schema.get("description") else ""),
            )
        ]
    if validator in ("oneOf", "anyOf") and error.context:
        # Report the branch that got furthest, which is usually the intended one.
        best = max(error.context, key=lambda e: len(list(e.absolute_path)))
        deeper = _problems_for(best)
        if len(list(best.absolute_path)) > len(list(error.absolute_path)):
            return deeper
        if isinstance(instance, dict) and "path" in instance and "uri" in instance:
            return [Problem(pointer, "give either 'path' or 'uri', not both")]
        if isinstance(instance, dict) and "id" in instance:
            return [
                Problem(
                    pointer,
                    "the base model must be pinned with 'revision' (40-hex commit) or 'digest' (sha256:...)",
                    "a branch or tag name is not immutable; pin the exact commit",
                )
            ]
        return [
            Problem(pointer, f"{_describe(instance)} matches none of the allowed forms: {deeper[0].message}")
        ]
    if validator == "uniqueItems":
        return [Problem(pointer, "list contains duplicates")]
    if validator in ("minItems", "minProperties"):
        return [Problem(pointer, "must not be empty")]
    return [Problem(pointer, error.message)]


def validate_instance(kind: str, instance: Any) -> list[Problem]:
    """All schema problems of ``instance`` as a ``kind`` manifest, in document order."""
    fast = _fast_check(kind)
    if fast is not None and fast(instance):
        return []  # valid; jsonschema runs only to describe what is wrong
    validator = _validator(kind)
    problems: list[Problem] = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        problems.extend(_problems_for(error))
    seen: set[tuple[str, str]] = set()
    unique = []
    for p in problems:
        if (p.pointer, p.message) not in seen:
            seen.add((p.pointer, p.message))
            unique.append(p)
    return unique
