"""Everything sunup prints to a terminal goes through here.

Messages go to stderr, data (tables, JSON, logs) to stdout. Colour only on a terminal (click
strips it otherwise) and never when NO_COLOR is set.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from sunup.config.diagnostics import Diagnostic

if TYPE_CHECKING:
    from sunup.config.loader import LoadedConfig


@dataclass
class Context:
    """What the top-level options set, handed to every command."""

    project_dir: str | None = None


def _color() -> bool | None:
    return False if os.environ.get("NO_COLOR") else None


def style(text: str, **kwargs: Any) -> str:
    return click.style(text, **kwargs)


def echo(text: str = "", *, err: bool = False) -> None:
    click.echo(text, err=err, color=_color())


def error(message: str, *, hint: str | None = None) -> None:
    echo(f"{style('error', fg='red', bold=True)}: {message}", err=True)
    if hint:
        echo(f"  {style('hint', fg='cyan')}: {hint}", err=True)


def warning(message: str, *, hint: str | None = None) -> None:
    echo(f"{style('warning', fg='yellow', bold=True)}: {message}", err=True)
    if hint:
        echo(f"  {style('hint', fg='cyan')}: {hint}", err=True)


def info(message: str) -> None:
    echo(message, err=True)


def data(text: str) -> None:
    echo(text)


def log_data(data: bytes) -> None:
    """Log lines on stdout, as they were written (bytes: a log need not be UTF-8)."""
    out = sys.stdout.buffer
    out.write(data)
    out.flush()


class PrefixedLogs:
    """Lines of several logs on stdout, each after its log's label, as `sunup up` shows its
    instances (``queue.0 | ...``): labels aligned, one colour each on a terminal (not with
    NO_COLOR, nor when stdout is a file or a pipe)."""

    def __init__(self, labels: Sequence[str]) -> None:
        from sunup.supervisor.console import COLOURS

        colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        width = max((len(label) for label in labels), default=0)
        self._prefixes: list[bytes] = []
        for number, label in enumerate(labels):
            text = printable(label).ljust(width) + " | "
            if colour:
                text = f"\x1b[{COLOURS[number % len(COLOURS)]}m{text}\x1b[0m"
            self._prefixes.append(text.encode())
        self._partial: dict[int, bytes] = {}

    def write(self, index: int, data: bytes) -> None:
        """The whole lines of `data`, from log `index`, each prefixed (an unfinished last line
        waits for its end)."""
        data = self._partial.pop(index, b"") + data
        end = data.rfind(b"\n") + 1
        if end < len(data):
            self._partial[index] = data[end:]
        if end:
            prefix = self._prefixes[index]
            log_data(prefix + data[: end - 1].replace(b"\n", b"\n" + prefix) + b"\n")


def json_data(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


#: Longest source line shown whole under a diagnostic; a longer one is cut around the column.
MAX_SOURCE_WIDTH = 160


def _excerpt(line: str, column: int) -> tuple[str, int]:
    """`line` cut to about MAX_SOURCE_WIDTH characters around `column` (1-based), with `...`
    where text was left out, and the column in the cut line."""
    line = printable(line)
    if len(line) <= MAX_SOURCE_WIDTH:
        return line, column
    start = max(0, min(column - 1 - MAX_SOURCE_WIDTH // 2, len(line) - MAX_SOURCE_WIDTH))
    end = start + MAX_SOURCE_WIDTH
    head = "..." if start > 0 else ""
    tail = "..." if end < len(line) else ""
    return head + line[start:end] + tail, column - start + len(head)


#: Control characters (C0 but tab, DEL, C1) a configuration may hold, shown as U+FFFD: written to
#: a terminal as they are, an escape sequence in a key could retitle or repaint it. A tab is one
#: space, so that carets stay under their column.
_UNPRINTABLE = dict.fromkeys((*range(0x20), 0x7F, *range(0x80, 0xA0)), "\ufffd") | {0x09: " "}


def printable(text: str) -> str:
    """`text` with its control characters shown as U+FFFD, its tabs as one space."""
    return text.translate(_UNPRINTABLE)


def _shorten(text: str, limit: int = 4 * MAX_SOURCE_WIDTH) -> str:
    """`text` made printable, its middle left out when it is longer than `limit` (a message
    quoting a huge value)."""
    text = printable(text)
    if len(text) <= limit:
        return text
    return f"{text[: limit // 2]}...({len(text) - limit} characters)...{text[-limit // 2 :]}"


def render_diagnostic(
    diagnostic: Diagnostic, sources: dict[str, str], split: dict[str, list[str]] | None = None
) -> str:
    """One diagnostic, compiler-style: location, severity[code], message, source line, caret, hint.

    `split` keeps the lines of each source between calls (thousands of diagnostics in one big
    file would split it thousands of times)."""
    is_error = diagnostic.is_error
    label = style(f"{diagnostic.severity.value}[{diagnostic.code}]", fg="red" if is_error else "yellow", bold=True)
    where = printable(f"{diagnostic.mark}: ") if diagnostic.mark else ""
    lines = [f"{style(where, bold=True)}{label}: {_shorten(diagnostic.message)}"]
    mark = diagnostic.mark
    text = sources.get(mark.file) if mark else None
    if mark and text is not None:
        split = {} if split is None else split
        source_lines = split.get(mark.file)
        if source_lines is None:
            source_lines = split[mark.file] = text.splitlines()
        if 0 < mark.line <= len(source_lines):
            line, column = _excerpt(source_lines[mark.line - 1].rstrip(), mark.column)
            number = str(mark.line)
            gutter = " " * len(number)
            width = max(1, min(mark.width, max(1, len(line) - column + 1)))
            lines.append(f" {number} | {line}")
            lines.append(f" {gutter} | {' ' * (column - 1)}{style('^' * width, fg='red' if is_error else 'yellow')}")
    if diagnostic.hint:
        lines.append(f"  {style('hint', fg='cyan')}: {_shorten(diagnostic.hint)}")
    if diagnostic.related and diagnostic.hint is None:
        lines.append(f"  {style('note', fg='cyan')}: see also {diagnostic.related}")
    return "\n".join(lines)


def diagnostics(loaded: LoadedConfig) -> None:
    """Print every diagnostic, errors first, then a summary line."""
    items = loaded.diagnostics.sorted()
    errors = [d for d in items if d.is_error]
    warnings = [d for d in items if not d.is_error]
    split: dict[str, list[str]] = {}
    for diagnostic in errors + warnings:
        echo(render_diagnostic(diagnostic, loaded.positions.sources, split), err=True)
        echo(err=True)
    summary = []
    if errors:
        summary.append(style(f"{len(errors)} error{'s' if len(errors) != 1 else ''}", fg="red", bold=True))
    if warnings:
        summary.append(style(f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}", fg="yellow"))
    if summary:
        echo(", ".join(summary), err=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned table on stdout."""
    cells = [[str(h).upper() for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        echo(style(line, bold=True) if index == 0 else line)
