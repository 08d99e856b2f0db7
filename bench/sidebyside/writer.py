"""A log writer for the log-capture scenario (run as a script, by the managers).

    python writer.py STREAM LINES SLEEP

Prints LINES lines of exactly 99 bytes, "W<stream> <seq, 8 digits> xxx…\\n", as fast as it can
through a block-buffered stdout (so lines cross write(2) boundaries, as real programs' do), then
execs `sleep SLEEP` so that no manager sees it exit.
"""

from __future__ import annotations

import os
import sys

LINE_BYTES = 99


def main() -> None:
    stream, lines, then_sleep = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    prefix = f"W{stream} ".encode()
    pad = b"x" * (LINE_BYTES - 1 - len(prefix) - 9)
    out = sys.stdout.buffer
    for seq in range(lines):
        out.write(prefix + b"%08d " % seq + pad + b"\n")
    out.flush()
    os.execvp("sleep", ["sleep", then_sleep])


if __name__ == "__main__":
    main()
