"""A real OpenAI-compatible HTTP server (aiohttp) for the ``openai`` backend tests.

The HTTP side is always real: aiohttp's web server on 127.0.0.1, the ``POST
/v1/chat/completions`` request and response format of the OpenAI API, status codes, JSON
parsing, timeouts. What answers depends on the state the test passes:

* ``ServerState(chat=...)`` serves a real model: ``chat(messages, max_tokens)`` is the
  ``transformers`` backend holding the tiny randomly-initialised model with its PEFT adapter
  (tests/evals/tiny_model.py), run in a worker thread so the event loop stays free. Used by
  test_run_transformers.py (needs ``make test-models``).
* ``ServerState(answer=...)`` is a TEST DOUBLE FOR THE MODEL ONLY: the answer comes from a
  lookup keyed by the last user message. The default test run has no torch, so no model can
  be served there; the lookup lets those tests know the expected scores exactly (retries,
  resumption, failing categories, bounded concurrency).

``fail_first`` makes the first N requests answer 503 (to exercise retries) and ``delay``
slows every answer (to kill a run midway).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiohttp import web


@dataclass
class ServerState:
    answer: Callable[[str], str] | None = None  # lookup by last user message (test double)
    chat: Callable[..., str] | None = None  # a real model: chat(messages, max_new_tokens=N)
    fail_first: int = 0
    delay: float = 0.0
    requests: int = 0
    prompts: list[str] = field(default_factory=list)
    inflight: int = 0
    max_inflight: int = 0  # most requests being answered at once (bounded concurrency)


def _app(state: ServerState) -> web.Application:
    async def chat(request: web.Request) -> web.Response:
        state.requests += 1
        if state.requests <= state.fail_first:
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        body: dict[str, Any] = await request.json()
        if not isinstance(body.get("messages"), list) or "model" not in body:
            return web.json_response({"error": {"message": "messages and model are required"}}, status=400)
        user = [m["content"] for m in body["messages"] if m.get("role") == "user"][-1]
        state.prompts.append(user)
        state.inflight += 1
        state.max_inflight = max(state.max_inflight, state.inflight)
        try:
            if state.delay:
                await asyncio.sleep(state.delay)
        finally:
            state.inflight -= 1
        if state.chat is not None:
            messages = [{"role": str(m["role"]), "content": str(m["content"])} for m in body["messages"]]
            limit = body.get("max_tokens")
            call = partial(state.chat, messages, max_new_tokens=int(limit) if limit else None)
            text = await asyncio.get_running_loop().run_in_executor(None, call)
        else:
            assert state.answer is not None, "ServerState needs answer or chat"
            text = state.answer(user)
        return web.json_response(
            {
                "id": f"chatcmpl-{state.requests}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "system_fingerprint": "fp_tiny_model" if state.chat else "fp_test_double",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


@contextmanager
def serve(state: ServerState) -> Iterator[str]:
    """Run the server in a thread; yields its base URL (http://127.0.0.1:PORT)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def start() -> None:
        runner = web.AppRunner(_app(state), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        box["port"] = sockets[0].getsockname()[1]
        box["runner"] = runner
        ready.set()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("test server did not start")
    try:
        yield f"http://127.0.0.1:{box['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(box["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
