"""The record, in the project's state folder, of where its top-level groups were created.

The top-level group is named after the state folder (`top_name`), so two projects never share
one. Its place depends on where the supervisor runs (v1: under the supervisor's own group in each
hierarchy; v2: under a delegated ancestor), which may change between two runs: the ledger
(`<state>/isolation.json`) remembers every place used, so that the next run finds what a dead
supervisor left.

    {"groups": {"cgroup-v1": [{"cpu": "/sys/fs/cgroup/cpu/sunup-1a2b3c4d5e6f", …}],
                "cgroup-v2": [{"": "/sys/fs/cgroup/user.slice/…/sunup-1a2b3c4d5e6f"}]}}
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "isolation.json"

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def top_name(state_dir: Path, name: str = "sunup") -> str:
    """``<name>-<12 hex digits of the state folder's resolved path>``."""
    if not _NAME.match(name):
        raise ValueError(f"invalid isolation name {name!r}: use a-z, 0-9, '-' and '_'")
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()
    return f"{name}-{digest[:12]}"


@dataclass(frozen=True, slots=True)
class Ledger:
    path: Path

    @classmethod
    def of(cls, state_dir: Path) -> Ledger:
        return cls(state_dir / FILE_NAME)

    def places(self, backend: str) -> list[dict[str, Path]]:
        """Every place recorded for `backend`, oldest first: {controller ("" for v2): top folder}."""
        return [{k: Path(v) for k, v in entry.items()} for entry in self._read().get(backend, [])]

    def record(self, backend: str, tops: Mapping[str, Path]) -> None:
        data = self._read()
        entry = {k: str(v) for k, v in tops.items()}
        entries = data.setdefault(backend, [])
        if entry not in entries:
            entries.append(entry)
            self._write(data)

    def forget(self, backend: str, tops: Mapping[str, Path]) -> None:
        data = self._read()
        entry = {k: str(v) for k, v in tops.items()}
        if entry in data.get(backend, []):
            data[backend].remove(entry)
            self._write(data)

    def _read(self) -> dict[str, list[dict[str, str]]]:
        try:
            raw = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temporary.write_text(json.dumps({"groups": groups}, indent=2) + "\n")
        temporary.replace(self.path)
