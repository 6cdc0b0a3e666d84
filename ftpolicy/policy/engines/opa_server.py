"""The ``opa`` engine: a real OPA server over its REST API (opa-python-client).

Policies are uploaded through the Policy API exactly as they are in Git: the client's
automatic v0-to-v1 rewriting is turned off (``rego_compat=False``), so OPA runs the bytes of
the file or refuses them. Uploads are keyed by the policy set digest:

* policy ids are ``ftpolicy/<digest prefix>/<module name>``; policies under ``ftpolicy/`` that
  belong to another digest are deleted first (OPA evaluates every loaded module together);
* the data document replaces OPA's data root (``PUT /v1/data``);
* nothing is uploaded when the server already holds exactly this digest's policies.

The server is therefore meant to be dedicated to ftpolicy (a sidecar or a CI service): two
different policy sets pushed to one server at the same time would replace each other.
Queries are ``POST /v1/data/<path>``; ``strict-builtin-errors`` mirrors the embedded engine.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import urlsplit

from ftpolicy.errors import EvaluationError, Location, UsageError
from ftpolicy.policy.engines.interface import PolicyEngine, UndefinedResult, query_path
from ftpolicy.policy.engines.policyset import PolicySet

__all__ = ["DEFAULT_OPA_URL", "ID_PREFIX", "OpaServerEngine"]

DEFAULT_OPA_URL = "http://127.0.0.1:8181"
#: Every policy id this engine uploads starts with this prefix.
ID_PREFIX = "ftpolicy/"
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9._/-]")
_TOKEN_HINT = "check the bearer token (--opa-token / FTPOLICY_OPA_TOKEN) and the server's authorization"
_UNREACHABLE_HINT = "start OPA (`opa run --server`) or check --opa-url / FTPOLICY_OPA_URL"


def policy_ids(policy_set: PolicySet) -> dict[str, str]:
    """OPA policy id -> module name for every module of ``policy_set`` (stable, URL-safe)."""
    prefix = f"{ID_PREFIX}{policy_set.digest.split(':', 1)[1][:16]}/"
    ids: dict[str, str] = {}
    for name in policy_set.modules:
        safe = _UNSAFE_ID_CHARS.sub("_", name).replace("..", "__")
        safe = "/".join(part for part in safe.split("/") if part)
        candidate = prefix + safe
        n = 2
        while candidate in ids:
            candidate = f"{prefix}{safe}~{n}"
            n += 1
        ids[candidate] = name
    return ids


class OpaServerEngine(PolicyEngine):
    """Evaluates policies on an OPA server reached at ``url`` (``http(s)://host:port``)."""

    name = "opa"

    def __init__(
        self,
        url: str = DEFAULT_OPA_URL,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        strict_builtin_errors: bool = True,
    ) -> None:
        from opa_client.opa import OpaClient

        self.url = url
        self.timeout = timeout
        self.strict_builtin_errors = strict_builtin_errors
        host, port, ssl = _parse_url(url)
        self._client = OpaClient(host=host, port=port, ssl=ssl, token=token, timeout=timeout, retries=1)
        self._lock = threading.Lock()
        self._pushed: str | None = None  # digest of the policy set the server holds
        self._ids: dict[str, str] = {}  # policy id -> module name of the pushed set

    # -- public API -------------------------------------------------------------------------

    def version(self) -> str:
        """``OPA <version>`` as the server reports it (``opa.runtime().version``)."""
        body = self._request(
            "asking the OPA server for its version",
            lambda: self._client.ad_hoc_query("v := opa.runtime().version"),
        )
        rows = body.get("result") or [{}]
        return f"OPA {rows[0].get('v', 'unknown')}"

    def prepare(self, policy_set: PolicySet, queries: list[str]) -> None:
        """Upload ``policy_set`` unless the server already holds it."""
        for q in queries:
            query_path(q)
        self._sync(policy_set)

    def query(self, policy_set: PolicySet, query: str, input: Any = None) -> Any:
        """Evaluate ``query`` on the server (``input`` ``None``: no input document)."""
        path = query_path(query)
        self._sync(policy_set)
        params = {"strict-builtin-errors": "true"} if self.strict_builtin_errors else None
        body = self._request(
            f"evaluating {query}",
            lambda: self._client.query_rule(input, "/".join(path), query_params=params),
        )
        if "result" not in body:
            raise UndefinedResult(
                f"{query} is undefined (no rule produced a value)",
                hint="check the package and rule names, and that the rule has a default value",
            )
        return body["result"]

    def close(self) -> None:
        """Close the HTTP session."""
        self._client.close_connection()

    # -- uploads ----------------------------------------------------------------------------

    def _sync(self, policy_set: PolicySet) -> None:
        digest = policy_set.digest
        with self._lock:
            if self._pushed == digest:
                return
            ids = policy_ids(policy_set)
            existing = self._request("listing the server's policies", self._client.get_policies_list)
            ours = {i for i in existing if isinstance(i, str) and i.startswith(ID_PREFIX)}
            if ours != set(ids):
                for stale in sorted(ours - set(ids)):
                    self._request(
                        f"deleting stale policy {stale}", lambda s=stale: self._client.delete_policy(s)
                    )
                self._put_data(policy_set.data)
                self._put_modules(policy_set, ids)
            self._pushed = digest
            self._ids = ids

    def _put_data(self, data: dict[str, Any]) -> None:
        client = self._client

        def put() -> Any:
            response = client._session.put(f"{client.root_url}/data", json=data, timeout=client.timeout)
            response.raise_for_status()
            return response

        self._request("uploading the policy data document", put)

    def _put_modules(self, policy_set: PolicySet, ids: dict[str, str]) -> None:
        """PUT every module; retry failures until no progress (OPA compiles each upload against
        what it already holds, so a module calling a function of a later module fails at first)."""
        from opa_client.errors import RegoParseError

        pending = list(ids)
        errors: dict[str, RegoParseError] = {}
        while pending:
            progress = False
            for policy_id in list(pending):
                source = policy_set.modules[ids[policy_id]]
                try:
                    self._request(
                        f"uploading policy {ids[policy_id]}",
                        lambda pid=policy_id, src=source: self._client.update_policy_from_string(
                            src, pid, rego_compat=False
                        ),
                    )
                except _Rejected as exc:
                    errors[policy_id] = exc.error
                    continue
                pending.remove(policy_id)
                errors.pop(policy_id, None)
                progress = True
            if not progress:
                first = pending[0]
                raise self._compile_error(errors[first], ids)

    # -- errors -----------------------------------------------------------------------------

    def _compile_error(self, error: Any, ids: dict[str, str]) -> EvaluationError:
        details = [e for e in (getattr(error, "errors", None) or []) if isinstance(e, dict)]
        if not details:
            denied = getattr(error, "expression", "") in ("unauthorized", "forbidden")
            return EvaluationError(
                f"the OPA server refused the policy upload: {getattr(error, 'message', error)}",
                hint=_TOKEN_HINT if denied else None,
                code="policy.rejected",
            )
        first = details[0]
        message = str(first.get("message", "")).strip()
        loc = first.get("location") or {}
        location = None
        if isinstance(loc, dict) and loc.get("file"):
            file = ids.get(str(loc["file"]), str(loc["file"]))
            location = Location(file, _int_or_none(loc.get("row")), _int_or_none(loc.get("col")))
        more = f" (and {len(details) - 1} more errors)" if len(details) > 1 else ""
        v0 = "keyword is required" in message
        return EvaluationError(
            f"{'Rego v0 syntax' if v0 else 'policy does not compile'} (OPA): {message}{more}",
            hint="OPA 1.x accepts only Rego v1; `opa fmt --write --v0-v1 FILE` rewrites a file"
            if v0
            else "run `opa check --strict` on the policy folder for all diagnostics",
            location=location,
            code="policy.v0-syntax" if v0 else "policy.compile",
        )

    def _request(self, what: str, call: Any) -> Any:
        """Run one client call, turning every failure into an EvaluationError that says why."""
        import requests
        from opa_client.errors import ConnectionsError, RegoParseError

        try:
            return call()
        except RegoParseError as exc:
            raise _Rejected(exc) from None
        except (requests.Timeout, requests.ConnectionError, ConnectionsError) as exc:
            if not isinstance(exc, requests.Timeout) and "timed out" not in str(exc):
                raise EvaluationError(
                    f"{what}: cannot reach the OPA server at {self.url} ({_reason(exc)})",
                    hint=_UNREACHABLE_HINT,
                    code="policy.unreachable",
                ) from None
            raise EvaluationError(
                f"{what}: the OPA server at {self.url} did not answer within {self.timeout:g} s",
                hint=_UNREACHABLE_HINT + ", or raise the timeout",
                code="policy.unreachable",
            ) from None
        except requests.HTTPError as exc:
            raise self._http_error(what, exc) from None
        except (requests.RequestException, ValueError) as exc:
            raise EvaluationError(
                f"{what}: unexpected answer from the OPA server at {self.url}: {exc}",
                hint=_UNREACHABLE_HINT,
                code="policy.rejected",
            ) from None
        except _CLIENT_ERRORS as exc:  # opa_client's own error classes (PolicyNotFoundError, ...)
            message = getattr(exc, "message", None) or str(exc)
            raise EvaluationError(
                f"{what}: the OPA server refused the request: {message}", code="policy.rejected"
            ) from None

    def _http_error(self, what: str, exc: Any) -> EvaluationError:
        response = exc.response
        status = getattr(response, "status_code", "?")
        try:
            body = response.json()
        except ValueError:
            body = {"message": (response.text or "")[:300]}
        errors = [e for e in body.get("errors", []) if isinstance(e, dict)] if isinstance(body, dict) else []
        if status in (401, 403):
            return EvaluationError(
                f"{what}: the OPA server refused the request ({status} {body.get('code', '')}): "
                f"{body.get('message', '')}".rstrip(),
                hint=_TOKEN_HINT,
                code="policy.rejected",
            )
        if errors:
            first = errors[0]
            loc = first.get("location") or {}
            location = None
            if isinstance(loc, dict) and loc.get("file"):
                file = self._ids.get(str(loc["file"]), str(loc["file"]))
                location = Location(file, _int_or_none(loc.get("row")), _int_or_none(loc.get("col")))
            more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
            return EvaluationError(
                f"{what} failed on the OPA server: {first.get('code', 'error')}: "
                f"{str(first.get('message', '')).strip()}{more}",
                location=location,
                code="policy.evaluation",
            )
        message = body.get("message", "") if isinstance(body, dict) else ""
        return EvaluationError(
            f"{what}: the OPA server answered {status}: {message}".rstrip(": "),
            code="policy.rejected",
        )


class _Rejected(Exception):
    """An upload the server refused (carries opa_client's RegoParseError)."""

    def __init__(self, error: Any) -> None:
        super().__init__(str(error))
        self.error = error


def _client_errors() -> tuple[type[BaseException], ...]:
    from opa_client import errors

    names = (
        "DeleteDataError",
        "DeletePolicyError",
        "FileError",
        "PatchDataError",
        "PathNotFoundError",
        "PolicyNotFoundError",
        "QueryExecuteError",
        "SSLError",
        "TypeException",
    )
    return tuple(getattr(errors, n) for n in names if hasattr(errors, n))


_CLIENT_ERRORS = _client_errors()


def _parse_url(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"not an OPA server URL: {url!r}",
            hint="give the server's base URL, for example http://127.0.0.1:8181",
            code="usage.opa-url",
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(
            f"the OPA URL must not have a path or query: {url!r}",
            hint="give only scheme, host and port (the /v1 API path is added by ftpolicy)",
            code="usage.opa-url",
        )
    try:
        port = parts.port
    except ValueError:
        raise UsageError(f"bad port in OPA URL {url!r}", code="usage.opa-url") from None
    ssl = parts.scheme == "https"
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return host, port if port is not None else (443 if ssl else 80), ssl


def _reason(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "No route to host", "timed out"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) else None
