"""Durations, sizes and regexes as the platform's nginx reads them (`expires`, `max_request_size`, rules)."""

from __future__ import annotations

from typing import Any

import pytest

from sunup.config.routing import regex_problem
from sunup.config.units import parse_duration, parse_size


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        (-1, -1),
        ("-1", -1),
        (0, 0),
        (600, 600),
        ("600", 600),
        ("30s", 30),
        ("300s", 300),
        ("5m", 300),
        ("1h", 3600),
        ("2d", 172800),
        ("1w", 604800),
        ("2w", 1209600),
        ("1M", 2592000),
        ("1y", 31536000),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("1500ms", 1),
    ],
)
def test_durations_read_as_nginx_reads_them(written: Any, seconds: int) -> None:
    """Each written duration is that many seconds (M is 30 days, y 365, a bare number seconds)."""
    assert parse_duration(written) == seconds


@pytest.mark.parametrize("written", ["", "soon", "1 hour", "5x", "-5", -2, "h", "1x1h", True, 1.5, None])
def test_non_durations_are_refused(written: Any) -> None:
    """Words, unknown units, negatives other than -1, booleans and floats are no durations."""
    with pytest.raises(ValueError):
        parse_duration(written)


@pytest.mark.parametrize(
    ("written", "size"),
    [(1024, 1024), ("10", 10), ("512k", 524288), ("512K", 524288), ("250m", 262144000), ("1g", 1073741824)],
)
def test_sizes_read_as_nginx_reads_them(written: Any, size: int) -> None:
    """Bytes, or k, m, g (either case) as powers of 1024, as client_max_body_size."""
    assert parse_size(written) == size


@pytest.mark.parametrize("written", ["250MB", "1.5g", "big", -1, "", False])
def test_non_sizes_are_refused(written: Any) -> None:
    """Units nginx does not know, fractions, negatives and booleans are no sizes."""
    with pytest.raises(ValueError):
        parse_size(written)


def test_regexes_are_read_as_pcre() -> None:
    """PCRE's named groups and look-behinds pass; an unclosed group does not."""
    assert regex_problem(r"^/(?<year>\d{4})/(?<slug>.*)$") is None
    assert regex_problem(r"(?<!\.php)$") is None
    assert regex_problem(r"\.(css|js)$") is None
    assert regex_problem(r"\.(css|js$") is not None
    assert regex_problem("*.js") is not None
