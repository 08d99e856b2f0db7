"""The peers files: one per group, written whole, and not again when the list is the same."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from sunup.supervisor.peers import peers_path, write_peers
from sunup.supervisor.testing import instance_spec


def test_each_group_lists_its_instances_and_an_unchanged_list_is_not_written_again(tmp_path: Path) -> None:
    specs = [
        replace(instance_spec("sleep 1", tmp_path, group=group, index=index), port=None)
        for group, index in (("queue", 1), ("queue", 0), ("mail", 0))
    ]
    write_peers(tmp_path, specs)
    queue = peers_path(tmp_path, "app", "queue")
    assert [i["name"] for i in json.loads(queue.read_text())["instances"]] == ["queue.0", "queue.1"]
    assert [i["name"] for i in json.loads(peers_path(tmp_path, "app", "mail").read_text())["instances"]] == ["mail.0"]
    inode = queue.stat().st_ino
    write_peers(tmp_path, specs)
    assert queue.stat().st_ino == inode, "the same list was written again"
    write_peers(tmp_path, specs[1:])
    assert queue.stat().st_ino != inode
    assert [i["name"] for i in json.loads(queue.read_text())["instances"]] == ["queue.0"]
    queue.write_text("{damaged")
    write_peers(tmp_path, specs)
    assert len(json.loads(queue.read_text())["instances"]) == 2
