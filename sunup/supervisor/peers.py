"""The instances of a group, listed for the instances themselves (spec §2: Upsun's /run/peers.json).

Every instance finds its group's list at ``$SUNUP_PEERS``::

    <state>/run/peers/<app>/<group>.json
    {"app": "app", "group": "queue", "instance_name": "app--queue",
     "instances": [{"name": "queue.0", "index": 0, "host": "127.0.0.1", "port": null}, ...]}

`port` is a web instance's PORT (null for workers and unix sockets). The file is written when
sunup starts and whenever the group is scaled, whole (`sunup.atomicfile`): a reader never sees
half a list, and a full disk leaves the previous list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sunup.atomicfile import write_atomically

if TYPE_CHECKING:
    from sunup.supervisor.launch import InstanceSpec

#: The variable holding the path of the instance's peers file.
PEERS_VARIABLE = "SUNUP_PEERS"
HOST = "127.0.0.1"


def peers_path(state_root: Path, app: str, group: str) -> Path:
    return state_root / "run" / "peers" / app / f"{group}.json"


def peers_document(app: str, group: str, instance_name: str, specs: Iterable[InstanceSpec]) -> dict[str, Any]:
    """The JSON of one group's peers file, its instances in index order."""
    members = sorted((s for s in specs if s.id.app == app and s.id.group == group), key=lambda s: s.id.index)
    return {
        "app": app,
        "group": group,
        "instance_name": instance_name,
        "instances": [{"name": s.id.name, "index": s.id.index, "host": HOST, "port": s.port} for s in members],
    }


def write_peers(state_root: Path, specs: Iterable[InstanceSpec]) -> None:
    """Write the peers file of every group that `specs` has instances of."""
    groups: dict[tuple[str, str], list[InstanceSpec]] = {}
    for spec in specs:
        groups.setdefault((spec.id.app, spec.id.group), []).append(spec)
    for (app, group), members in sorted(groups.items()):
        instance_name = members[0].environment.get("PLATFORM_APPLICATION_NAME", "")
        write_group_peers(state_root, peers_document(app, group, instance_name, members))


def write_group_peers(state_root: Path, document: dict[str, Any]) -> None:
    path = peers_path(state_root, document["app"], document["group"])
    content = (json.dumps(document, indent=1) + "\n").encode()
    try:
        if path.read_bytes() == content:  # the same list as the last start: nothing to write
            return
    except OSError:
        pass
    # Made anew from the plan at every start: atomic, but not fsync'd (one per group adds up).
    write_atomically(path, content, durable=False)
