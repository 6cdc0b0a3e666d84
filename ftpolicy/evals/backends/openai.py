"""The ``openai`` backend: any OpenAI-compatible ``POST /v1/chat/completions`` server.

vLLM, TGI, llama.cpp's server and Ollama serve this route. Requests are deterministic
(``temperature`` 0, fixed ``seed``), bounded by a timeout, and retried with exponential
backoff (0.5 s, 1 s, 2 s, ... capped at 8 s) on connection errors, timeouts, 408, 429 and
5xx answers; other 4xx answers fail at once (the request itself is wrong). The API key, when
needed, comes from an environment variable (``OPENAI_API_KEY`` unless told otherwise), never
from the command line. Only the standard library is used.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from ftpolicy.evals.runner import BackendError

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def chat_url(endpoint: str) -> str:
    """``.../v1/chat/completions`` for an endpoint given with or without ``/v1``."""
    base = endpoint.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    if base.endswith("/v1"):
        return base + "/chat/completions"
    return base + "/v1/chat/completions"


class OpenAIBackend:
    """Chat completions over HTTP (see the module docstring)."""

    name = "openai"

    def __init__(
        self,
        endpoint: str,
        model: str,
        *,
        timeout: float = 120.0,
        retries: int = 4,
        max_tokens: int = 1024,
        seed: int = 0,
        api_key_env: str = "OPENAI_API_KEY",
        backoff: float = 0.5,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise BackendError(
                f"--endpoint {endpoint!r} is not an http(s) URL", hint="e.g. --endpoint http://127.0.0.1:8000"
            )
        self.url = chat_url(endpoint)
        self.model = model
        self.timeout = timeout
        self.retries = retries
        self.max_tokens = max_tokens
        self.seed = seed
        self.backoff = backoff
        self._key = os.environ.get(api_key_env) or None
        self._lock = threading.Lock()
        self._served_model: str | None = None
        self._fingerprint: str | None = None
        self.requests = 0  # HTTP requests sent (retries included)

    def _post(self, body: bytes) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with self._lock:
            self.requests += 1
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            value = json.loads(resp.read().decode("utf-8"))
        if not isinstance(value, dict):
            raise ValueError("the answer is not a JSON object")
        return value

    def generate(self, messages: Sequence[Mapping[str, str]]) -> str:
        """The assistant's answer to ``messages``."""
        body = json.dumps(
            {
                "model": self.model,
                "messages": [dict(m) for m in messages],
                "temperature": 0,
                "seed": self.seed,
                "max_tokens": self.max_tokens,
            }
        ).encode("utf-8")
        delay = self.backoff
        last = ""
        for attempt in range(self.retries + 1):
            try:
                value = self._post(body)
                text = value["choices"][0]["message"]["content"]
                if not isinstance(text, str):
                    text = "" if text is None else str(text)
                with self._lock:
                    self._served_model = self._served_model or str(value.get("model") or "") or None
                    self._fingerprint = self._fingerprint or value.get("system_fingerprint") or None
                return text
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code} {exc.reason}"
                if exc.code not in _RETRY_STATUS:
                    detail = exc.read()[:300].decode("utf-8", "replace")
                    raise BackendError(
                        f"{self.url}: {last}: {detail}",
                        hint="check --model and the endpoint (an OpenAI-compatible /v1/chat/completions)",
                    ) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                last = str(getattr(exc, "reason", exc))
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise BackendError(
                    f"{self.url}: the answer is not a chat completion ({exc})",
                    hint="the endpoint must speak the OpenAI chat completions format",
                ) from None
            if attempt < self.retries:
                time.sleep(delay)
                delay = min(delay * 2, 8.0)
        raise BackendError(
            f"{self.url}: no answer after {self.retries + 1} attempts ({last})",
            hint="is the server up? raise --timeout or --retries; a new run resumes from its cache",
        )

    def identity(self) -> dict[str, str]:
        """Backend and model as recorded in the evidence."""
        out = {"backend": "openai", "model": self.model}
        if self._served_model:
            out["model_version"] = self._served_model
        if self._fingerprint:
            out["backend_version"] = str(self._fingerprint)
        return out
