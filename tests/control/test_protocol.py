"""The control protocol's encoding: requests, replies, and what counts as a bad request."""

from __future__ import annotations

import pytest

from sunup.control.protocol import (
    BAD_REQUEST,
    ProtocolError,
    Request,
    decode_request,
    decode_response,
    encode_error,
    encode_result,
)


def test_request_round_trip() -> None:
    """An encoded request decodes to the same command, arguments and id."""
    request = Request("restart", {"worker": "queue", "index": 1}, 7)
    assert decode_request(request.encode()) == request


@pytest.mark.parametrize(
    "line",
    [
        b"garbage\n",
        b"[1, 2]\n",
        b'{"args": {}}\n',
        b'{"command": 3}\n',
        b'{"command": "ps", "args": [1]}\n',
        b"\xff\xfe\n",
    ],
)
def test_bad_requests_are_protocol_errors(line: bytes) -> None:
    """Anything but an object with a string command and object args is a bad request."""
    with pytest.raises(ProtocolError) as caught:
        decode_request(line)
    assert caught.value.code == BAD_REQUEST


def test_replies_round_trip() -> None:
    """Results and errors decode back with their id, code, message and hint."""
    assert decode_response(encode_result(1, [1, 2])).result == [1, 2]
    error = decode_response(encode_error(2, ProtocolError("selection", "no worker 'x'", "workers: queue"))).error
    assert error is not None
    assert (error.code, error.message, error.hint) == ("selection", "no worker 'x'", "workers: queue")
