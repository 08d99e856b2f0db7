"""The restart policy: immediate first restart, exponential with jitter, capped, reset by a long run."""

from __future__ import annotations

import pytest

from sunup.supervisor.backoff import RestartPolicy

POLICY = RestartPolicy(base=0.5, cap=30.0, window=10.0, jitter=0.2)


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(0, 0.0), (1, 0.0), (2, 0.5), (3, 1.0), (4, 2.0), (5, 4.0), (8, 30.0), (50, 30.0), (10_000, 30.0)],
)
def test_delay_without_jitter(failures: int, expected: float) -> None:
    """With the jitter draw in the middle, delays double from base and stop at the cap."""
    assert POLICY.delay(failures, 0.5) == pytest.approx(expected)


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.75, 0.999])
def test_jitter_stays_within_bounds_and_cap(draw: float) -> None:
    """Jitter moves a delay by at most ±20 % and never past the cap."""
    assert 0.8 * 2.0 <= POLICY.delay(4, draw) <= 1.2 * 2.0
    assert POLICY.delay(20, draw) <= 30.0


def test_failures_count_quick_deaths_and_reset_after_the_window() -> None:
    """A run shorter than the window adds one quick death; a longer one starts the count again."""
    assert POLICY.failures_after(3, 0.1) == 4
    assert POLICY.failures_after(3, 10.0) == 1
