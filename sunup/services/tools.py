"""Running a service's helper programs (initdb, mariadb-install-db, the SQL clients) with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path

from sunup.errors import RuntimeFailure

#: How much of a failing tool's output an error quotes.
TAIL_LINES = 12


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


async def run_tool(
    argv: Sequence[str],
    *,
    service: str,
    what: str,
    env: Mapping[str, str],
    timeout: float,
    stdin: str | None = None,
    cwd: Path | None = None,
) -> str:
    """Run `argv` to completion; return its output, or raise naming `what` failed and why."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        raise RuntimeFailure(f"service '{service}': could not run {argv[0]} to {what}: {exc}") from exc
    try:
        out, _ = await asyncio.wait_for(process.communicate(stdin.encode() if stdin is not None else None), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeFailure(f"service '{service}': {argv[0]} did not finish within {timeout:.0f} s ({what})") from None
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    text = out.decode("utf-8", "replace")
    if process.returncode != 0:
        raise RuntimeFailure(
            f"service '{service}': {what} failed ({Path(argv[0]).name} exited with status {process.returncode})",
            hint=tail(text) or None,
        )
    return text
