"""The peers' own virtual environment, bench/.venv, with the versions benchmarks.md names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

VENV = Path(__file__).resolve().parent.parent / ".venv"
PEERS = ("supervisor==4.3.0", "circus==0.19.0", "honcho==2.0.0")


def peer_bin(name: str) -> Path:
    return VENV / "bin" / name


def installed() -> dict[str, str]:
    """{distribution: version} of the peers in bench/.venv ({} when there is none)."""
    python = VENV / "bin" / "python"
    if not python.exists():
        return {}
    names = [p.split("==")[0] for p in PEERS]
    script = (
        "import importlib.metadata as m, sys\n"
        "for n in sys.argv[1:]:\n"
        "    try: print(n, m.version(n))\n"
        "    except m.PackageNotFoundError: pass\n"
    )
    done = subprocess.run([str(python), "-c", script, *names], capture_output=True, text=True, check=False)
    return dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)


def ensure() -> dict[str, str]:
    """Create bench/.venv and install the pinned peers if they are not all there."""
    wanted = dict(p.split("==") for p in PEERS)
    have = installed()
    if have == wanted:
        return have
    if not (VENV / "bin" / "python").exists():
        print(f"creating {VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    print(f"installing {' '.join(PEERS)} into {VENV} ...", file=sys.stderr)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", *PEERS], check=True)
    return installed()
