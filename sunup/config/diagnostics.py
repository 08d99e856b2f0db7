"""Configuration diagnostics: what is wrong, where, and what to do about it.

A `Diagnostic` is a frozen value. Readers and checkers collect them in a `Diagnostics` list
and never raise for a user mistake; the CLI renders them all at once, compiler-style
(see `sunup.cli.output`).
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, order=True)
class Mark:
    """A position in a configuration file; `line` and `column` count from 1."""

    file: str
    line: int
    column: int
    #: How many characters the caret should underline (at least one).
    width: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in a configuration, with a stable `code` (see docs/diagnostics.md)."""

    severity: Severity
    code: str
    message: str
    mark: Mark | None
    #: The key path as it reads in the file, e.g. ``applications.app.workers.queue``.
    path: str = ""
    hint: str | None = None
    #: Another place the problem involves (the first definition of a duplicate, ...).
    related: Mark | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        if self.mark is None:
            return ("", 0, 0, self.code)
        return (self.mark.file, self.mark.line, self.mark.column, self.code)


class Diagnostics:
    """An ordered collection of diagnostics that ignores exact repeats."""

    def __init__(self) -> None:
        self._items: list[Diagnostic] = []
        self._seen: set[Diagnostic] = set()

    def add(self, diagnostic: Diagnostic) -> None:
        if diagnostic not in self._seen:
            self._seen.add(diagnostic)
            self._items.append(diagnostic)

    def error(
        self,
        code: str,
        message: str,
        mark: Mark | None,
        *,
        path: str = "",
        hint: str | None = None,
        related: Mark | None = None,
    ) -> None:
        self.add(Diagnostic(Severity.ERROR, code, message, mark, path, hint, related))

    def warning(
        self,
        code: str,
        message: str,
        mark: Mark | None,
        *,
        path: str = "",
        hint: str | None = None,
        related: Mark | None = None,
    ) -> None:
        self.add(Diagnostic(Severity.WARNING, code, message, mark, path, hint, related))

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        for diagnostic in diagnostics:
            self.add(diagnostic)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self._items if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self._items if not d.is_error]

    def has_errors(self) -> bool:
        return any(d.is_error for d in self._items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self._items, key=Diagnostic.sort_key)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest choice to a misspelt `word`, if one is close enough."""
    options = sorted(set(choices))
    same_letters = [c for c in options if c.lower() == word.lower() and c != word]
    if same_letters:  # `TYPE:`, `Start:`: difflib compares case-sensitively and would miss them
        return f"did you mean '{same_letters[0]}'? names are case-sensitive"
    matches = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None
