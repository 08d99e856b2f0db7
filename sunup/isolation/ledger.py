"""The record, in the project's state folder, of where its top-level groups were created.

The top-level group is named after the state folder (`top_name`), so two projects never share
one. Its place depends on where the supervisor runs (v1: under the supervisor's own group in each
hierarchy; v2: under a delegated ancestor), which may change between two runs: the ledger
(`<state>/isolation.json`) remembers every place used, so that the next run finds what a dead
supervisor left.

    {"groups": {"cgroup-v1": [{"cpu": "/sys/fs/cgroup/cpu/sunup-1a2b3c4d5e6f", …}],
                "cgroup-v2": [{"": "/sys/fs/cgroup/user.slice/…/sunup-1a2b3c4d5e6f"}]}}

The file is written whole (`sunup.atomicfile`). A place that cannot be recorded (a full disk)
stops the start: a supervisor that died then would leave groups nobody finds. A place that
cannot be forgotten is only said (`problem`): its groups are gone already, and the next run that
can write the file forgets it; a cleanup never fails on it. An unreadable file records nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sunup.atomicfile import write_atomically
from sunup.errors import RuntimeFailure

FILE_NAME = "isolation.json"

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def top_name(state_dir: Path, name: str = "sunup") -> str:
    """``<name>-<12 hex digits of the state folder's resolved path>``."""
    if not _NAME.match(name):
        raise ValueError(f"invalid isolation name {name!r}: use a-z, 0-9, '-' and '_'")
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()
    return f"{name}-{digest[:12]}"


def _to_stderr(text: str) -> None:
    """The default `Ledger.problem`: a warning line on stderr (the supervisor's log in the
    background), dropped when even that cannot be written (its disk is full too)."""
    with contextlib.suppress(OSError):
        print(f"warning: {text}", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class Ledger:
    path: Path
    #: Told what could not be written, when that is not worth failing for (a forgotten place).
    problem: Callable[[str], None] = _to_stderr

    @classmethod
    def of(cls, state_dir: Path) -> Ledger:
        return cls(state_dir / FILE_NAME)

    def places(self, backend: str) -> list[dict[str, Path]]:
        """Every place recorded for `backend`, oldest first: {controller ("" for v2): top folder}."""
        return [{k: Path(v) for k, v in entry.items()} for entry in self._read().get(backend, [])]

    def record(self, backend: str, tops: Mapping[str, Path]) -> None:
        """Add a place; raises RuntimeFailure naming the file when it cannot be written."""
        data = self._read()
        entry = {k: str(v) for k, v in tops.items()}
        entries = data.setdefault(backend, [])
        if entry not in entries:
            entries.append(entry)
            try:
                self._write(data)
            except OSError as exc:
                raise RuntimeFailure(
                    f"cannot record the project's cgroups in {self.path}: {exc.strerror or exc}",
                    hint="make room on the disk of the state folder, then run sunup up again",
                ) from None

    def forget(self, backend: str, tops: Mapping[str, Path]) -> None:
        """Drop a place whose groups are removed; a file that cannot be written is only said."""
        data = self._read()
        entry = {k: str(v) for k, v in tops.items()}
        if entry in data.get(backend, []):
            data[backend].remove(entry)
            try:
                self._write(data)
            except OSError as exc:
                self.problem(
                    f"cannot update {self.path}: {exc.strerror or exc}; it still lists "
                    f"{', '.join(dict.fromkeys(entry.values()))} (removed), which the next sunup up or down forgets"
                )

    def _read(self) -> dict[str, list[dict[str, str]]]:
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):  # none, or unreadable: nothing recorded
            return {}
        groups = raw.get("groups") if isinstance(raw, dict) else None
        if not isinstance(groups, dict):
            return {}
        return {
            str(backend): [{str(k): str(v) for k, v in entry.items()} for entry in entries if isinstance(entry, dict)]
            for backend, entries in groups.items()
            if isinstance(entries, list)
        }

    def _write(self, groups: dict[str, list[dict[str, str]]]) -> None:
        write_atomically(self.path, json.dumps({"groups": groups}, indent=2) + "\n")
