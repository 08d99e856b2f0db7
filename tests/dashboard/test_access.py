"""The dashboard's token file and the checks that keep other sites from steering it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from sunup.dashboard.access import (
    TOKEN_HEADER,
    Access,
    new_token,
    read_access,
    remove_access,
    same_origin_refusal,
    token_matches,
    write_access,
)

HOSTS = frozenset({"127.0.0.1:8123", "localhost:8123"})


def test_the_token_file_is_the_owners_only_and_read_back(tmp_path: Path) -> None:
    """dashboard.json is created 0600 and gives back the URL and token written."""
    access = Access("http://127.0.0.1:8123", new_token())
    path = write_access(tmp_path, access)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_access(tmp_path) == access
    assert access.link == f"http://127.0.0.1:8123/?token={access.token}"
    remove_access(tmp_path)
    assert read_access(tmp_path) is None


def test_tokens_are_random_and_compared_whole() -> None:
    """Two ups never share a token; a prefix or nothing does not match."""
    token = new_token()
    assert token != new_token() and len(token) >= 32
    assert token_matches(token, token)
    assert not token_matches(token, token[:-1])
    assert not token_matches(token, None)


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({TOKEN_HEADER: "t", "Origin": "http://127.0.0.1:8123", "Sec-Fetch-Site": "same-origin"}, False),
        ({TOKEN_HEADER: "t"}, False),  # a non-browser client sends neither
        ({TOKEN_HEADER: "t", "Origin": "http://localhost:8123"}, False),
        ({"Origin": "http://127.0.0.1:8123"}, True),  # a form cannot set the header
        ({TOKEN_HEADER: "t", "Origin": "http://127.0.0.1:9999"}, True),  # another port: another origin
        ({TOKEN_HEADER: "t", "Origin": "https://evil.example"}, True),
        ({TOKEN_HEADER: "t", "Origin": "null"}, True),
        ({TOKEN_HEADER: "t", "Sec-Fetch-Site": "same-site"}, True),
        ({TOKEN_HEADER: "t", "Sec-Fetch-Site": "cross-site"}, True),
    ],
)
def test_a_post_is_refused_unless_it_comes_from_the_dashboard_itself(headers: dict[str, str], refused: bool) -> None:
    """Only the page's own requests (the header, and its origin when the browser says it) pass."""
    assert (same_origin_refusal(headers, HOSTS) is not None) is refused
