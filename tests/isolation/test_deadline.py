"""Bounded waits for kernel state that notifies nobody, on a fake clock."""

from __future__ import annotations

from sunup.isolation.deadline import LONGEST_PAUSE, Deadline


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_until_gives_up_at_the_deadline_without_overshooting() -> None:
    """until() returns False once the deadline has passed, and never pauses past it."""
    clock = FakeClock()
    assert not Deadline(0.1, clock, clock.sleep).until(lambda: False)
    assert clock.now == 0.1
    assert max(clock.pauses) <= LONGEST_PAUSE


def test_until_returns_as_soon_as_the_condition_holds() -> None:
    """until() returns True at the first check that passes, with growing pauses before it."""
    clock = FakeClock()
    checks = iter([False, False, False, True])
    assert Deadline(1.0, clock, clock.sleep).until(lambda: next(checks))
    assert clock.pauses == sorted(clock.pauses)
    assert len(clock.pauses) == 3
