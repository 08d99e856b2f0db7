"""The control protocol: one JSON object per line, each way (docs/control-protocol.md).

    → {"id": 1, "command": "restart", "args": {"worker": "queue", "index": 0}}
    ← {"id": 1, "ok": true, "result": {...}}
    ← {"id": 1, "ok": false, "error": {"code": "selection", "message": "...", "hint": "..."}}

Requests on one connection are answered in order. A line that is not such an object gets an
error reply (code ``bad-request``); a line over `MAX_MESSAGE` bytes gets one and the connection
is closed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSION = 1
MAX_MESSAGE = 1024 * 1024
#: Error codes (docs/control-protocol.md).
BAD_REQUEST = "bad-request"
UNKNOWN_COMMAND = "unknown-command"
SELECTION = "selection"
FAILED = "failed"
INTERNAL = "internal"
BUSY = "busy"

#: Longest path bind(2)/connect(2) take for a Unix socket, terminator included.
_SUN_PATH = 108


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Request:
    command: str
    args: dict[str, Any] = field(default_factory=dict)
    id: int | str | None = None

    def encode(self) -> bytes:
        return _line({"id": self.id, "command": self.command, "args": self.args})


@dataclass(frozen=True, slots=True)
class Response:
    id: int | str | None
    ok: bool
    result: Any = None
    error: ProtocolError | None = None


def _line(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode() + b"\n"


def _no_constant(name: str) -> Any:
    """`NaN`, `Infinity` and `-Infinity` are not JSON (Python's parser takes them by default)."""
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def decode_request(line: bytes) -> Request:
    """The request on `line`, or `ProtocolError` saying what is wrong with it."""
    try:
        value = json.loads(line, parse_constant=_no_constant, parse_float=_finite)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(BAD_REQUEST, f"not JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError(BAD_REQUEST, "not JSON this parser reads: nested too deeply") from None
    except ValueError as exc:  # a number of more than 4300 digits (sys.get_int_max_str_digits)
        raise ProtocolError(BAD_REQUEST, f"not JSON this parser reads: {exc}") from None
    if not isinstance(value, dict):
        raise ProtocolError(BAD_REQUEST, "a request is a JSON object")
    command = value.get("command")
    args = value.get("args", {})
    ident = value.get("id")
    if not isinstance(command, str):
        raise ProtocolError(BAD_REQUEST, "a request needs a string 'command'")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ProtocolError(BAD_REQUEST, "'args' must be an object")
    if ident is not None and not isinstance(ident, (int, str)):
        raise ProtocolError(BAD_REQUEST, "'id' must be an integer or a string")
    return Request(command, args, ident)


def encode_result(ident: int | str | None, result: Any) -> bytes:
    return _line({"id": ident, "ok": True, "result": result})


def encode_error(ident: int | str | None, error: ProtocolError) -> bytes:
    return _line(
        {"id": ident, "ok": False, "error": {"code": error.code, "message": error.message, "hint": error.hint}}
    )


def decode_response(line: bytes) -> Response:
    try:
        value = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(BAD_REQUEST, f"the supervisor sent something that is not JSON: {exc}") from None
    if not isinstance(value, dict) or not isinstance(value.get("ok"), bool):
        raise ProtocolError(BAD_REQUEST, "the supervisor sent a reply without 'ok'")
    if value["ok"]:
        return Response(value.get("id"), True, value.get("result"))
    error = value.get("error") or {}
    return Response(
        value.get("id"),
        False,
        error=ProtocolError(str(error.get("code", INTERNAL)), str(error.get("message", "")), error.get("hint")),
    )


@contextlib.contextmanager
def socket_address(path: Path) -> Iterator[str]:
    """A name for `path` that bind/connect accept, even when `path` is longer than they allow
    (via the folder's /proc/self/fd link, valid while the context is open)."""
    text = str(path)
    if len(os.fsencode(text)) < _SUN_PATH - 1:
        yield text
        return
    folder = os.open(path.parent, os.O_PATH | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)
