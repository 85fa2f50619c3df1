"""A stand-in for the Anthropic Messages API on 127.0.0.1, for driving the real
Claude Code client in tests.

It records the JSON body of every request and answers ``POST /v1/messages`` from a
*script*: a list of steps, each a plain text reply (:func:`text`) or one or more
tool calls (:func:`tool_use`).  The client runs a tool call and sends its result
back; the stand-in moves to the next step only when a request carries the
``tool_result`` of every call of the current step, so a script reads as the
conversation it produces::

    script = [tool_use("Write", {"file_path": "/p/a.txt", "content": "x"}),
              tool_use("Bash", {"command": "git status"}),
              text("done")]
    with StandIn(script) as api:
        ...run claude with ANTHROPIC_BASE_URL=api.url...
    api.requests          # every recorded request body, in arrival order
    api.loaded_paths()    # the files the client put into the model's context

Requests that offer no tools (the client's side queries, such as a title or a
quota probe) are answered with a one-word text and never consume a step: only
the agent loop, which always offers tools, follows the script.  Once the script
is exhausted every request gets the last step again if it is a text, otherwise
``"done"``.

Replies stream as server-sent events when the request has ``"stream": true``,
as the real API does, and are a single JSON message otherwise.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Step", "StandIn", "text", "tool_use", "loaded_paths"]


@dataclass(frozen=True)
class Step:
    """One reply of the script: ``blocks`` are Messages API content blocks
    (``{"type": "text", ...}`` or ``{"type": "tool_use", ...}``)."""

    blocks: tuple[dict[str, Any], ...]

    @property
    def tool_ids(self) -> frozenset[str]:
        """The ids of this step's tool calls (empty for a text reply)."""
        return frozenset(b["id"] for b in self.blocks if b["type"] == "tool_use")


_ids = itertools.count(1)


def text(reply: str) -> Step:
    """A step that answers with ``reply`` and ends the turn."""
    return Step(({"type": "text", "text": reply},))


def tool_use(name: str, input: Mapping[str, Any], *more: tuple[str, Mapping[str, Any]]) -> Step:
    """A step that calls tool ``name`` with ``input`` (and each further
    ``(name, input)`` pair in the same reply, as parallel calls).  Tool names are
    the client's: ``Read``, ``Write``, ``Edit``, ``Bash``..."""
    calls = ((name, input), *more)
    return Step(tuple(
        {"type": "tool_use", "id": f"toolu_standin_{next(_ids):04d}", "name": n, "input": dict(i)}
        for n, i in calls
    ))


_DEFAULT = text("done")
# "Contents of /p/CLAUDE.md (project instructions, ...):" for memory loaded at
# start, "Contents of /p/sub/CLAUDE.md:" for nested memory attached after a Read.
_CONTENTS = re.compile(r"^Contents of (/[^\n]*?)(?: \([^()\n]*\))?:$", re.MULTILINE)


def loaded_paths(body: Mapping[str, Any]) -> list[str]:
    """The absolute paths of the ``Contents of <path> (...)`` blocks in one request
    body: the memory files the client put into the model's context, in order."""
    found: list[str] = []
    for chunk in _strings(body):
        found.extend(_CONTENTS.findall(chunk))
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _tool_results(body: Mapping[str, Any]) -> set[str]:
    ids: set[str] = set()
    for message in body.get("messages", ()):
        content = message.get("content")
        if isinstance(content, list):
            ids.update(b.get("tool_use_id", "") for b in content
                       if isinstance(b, dict) and b.get("type") == "tool_result")
    return ids


@dataclass
class StandIn:
    """The server; a context manager that listens on an ephemeral port of 127.0.0.1.

    ``script`` is the list of steps (see the module docstring).  ``url`` is the
    value for ``ANTHROPIC_BASE_URL``; ``requests`` the recorded bodies of every
    ``POST`` (``/v1/messages`` and any other path), each with its ``path`` added
    under the key ``"_path"``."""

    script: Sequence[Step] = ()
    requests: list[dict[str, Any]] = field(default_factory=list)
    _step: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "StandIn is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def steps_taken(self) -> int:
        """How many steps of the script the client has completed (sent back every
        tool result of): a test asserts this to prove its script really ran."""
        return self._step

    def loaded_paths(self) -> list[str]:
        """Every file the client loaded into context over all requests, first
        occurrence order, without duplicates."""
        seen: dict[str, None] = {}
        for body in self.requests:
            for path in loaded_paths(body):
                seen.setdefault(path)
        return list(seen)

    def __enter__(self) -> StandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._json(200, {})

            def do_HEAD(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                if not isinstance(body, dict):
                    body = {"_raw": body}
                body["_path"] = self.path
                with standin._lock:
                    standin.requests.append(body)
                path = self.path.split("?", 1)[0]
                if path.endswith("/count_tokens"):
                    self._json(200, {"input_tokens": 1})
                elif path.endswith("/v1/messages"):
                    step = standin._reply_for(body)
                    if body.get("stream"):
                        self._sse(body, step)
                    else:
                        self._json(200, _message(body, step))
                else:
                    self._json(200, {})

            def _json(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _sse(self, body: Mapping[str, Any], step: Step) -> None:
                data = b"".join(
                    f"event: {kind}\ndata: {json.dumps(payload)}\n\n".encode()
                    for kind, payload in _events(body, step)
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _reply_for(self, body: Mapping[str, Any]) -> Step:
        """The step that answers ``body``; advances past the current step when
        ``body`` carries the results of all its tool calls."""
        if not body.get("tools"):
            return _DEFAULT
        with self._lock:
            if self._step < len(self.script):
                ids = self.script[self._step].tool_ids
                if ids and ids <= _tool_results(body):
                    self._step += 1
            if self._step < len(self.script):
                return self.script[self._step]
            last = self.script[-1] if self.script else _DEFAULT
            if not last.tool_ids:
                return last
            return _DEFAULT


def _message(body: Mapping[str, Any], step: Step) -> dict[str, Any]:
    return {
        "id": "msg_standin",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude-standin"),
        "content": list(step.blocks),
        "stop_reason": "tool_use" if step.tool_ids else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }


def _events(body: Mapping[str, Any], step: Step) -> Iterator[tuple[str, dict[str, Any]]]:
    message = _message(body, step)
    start = {**message, "content": [], "stop_reason": None}
    yield "message_start", {"type": "message_start", "message": start}
    for index, block in enumerate(step.blocks):
        if block["type"] == "text":
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {"type": "text", "text": ""}}
            delta: dict[str, Any] = {"type": "text_delta", "text": block["text"]}
        else:
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {**block, "input": {}}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                            "usage": {"output_tokens": 1}}
    yield "message_stop", {"type": "message_stop"}
