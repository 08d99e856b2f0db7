"""Mutated configurations get diagnostics, never an exception.

Start from valid projects (the seed example and a few of the shared corpus, read from there),
break one of their files the ways people do — drop a key, misspell one, give a value another
type, include a missing file, duplicate a key, type stray text, cut the file short — and check
that `read_config` only ever answers with diagnostics, each placed and printable, and that a
result without errors also resolves to a plan.
"""

from __future__ import annotations

import copy
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sunup.cli.output import render_diagnostic
from sunup.config import read_config
from sunup.config.loader import LoadedConfig
from sunup.plan.resolve import HostFacts, resolve_project
from tests.conftest import CORPUS, EXAMPLES, copy_project

#: Valid corpus projects used as starting points: Upsun files with workers, several apps,
#: PostgreSQL, an `!include`, and the legacy Platform.sh files.
CORPUS_SEEDS = (
    "upsun__demo",
    "OriPekelman__saleor",
    "upsun__bigfoot-multiapp-example@final-version",
    "DenisSeko__crm-demo-postgres",
    "Elastic-Suite__gally",
    "platformsh-templates__python3",
)

# -- YAML that keeps Upsun's tags through a load/dump round trip ---------------------------


@dataclass(frozen=True)
class Tagged:
    """A value written with a custom tag (`!include ...`, `!archive ...`)."""

    tag: str
    value: Any


class _Loader(yaml.SafeLoader):
    pass


class _Dumper(yaml.SafeDumper):
    pass


def _construct_tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.MappingNode):
        return Tagged("!" + suffix, loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Tagged("!" + suffix, loader.construct_sequence(node, deep=True))
    return Tagged("!" + suffix, loader.construct_scalar(node))  # type: ignore[arg-type]


def _represent_tagged(dumper: yaml.SafeDumper, tagged: Tagged) -> yaml.Node:
    if isinstance(tagged.value, dict):
        return dumper.represent_mapping(tagged.tag, tagged.value)
    if isinstance(tagged.value, list):
        return dumper.represent_sequence(tagged.tag, tagged.value)
    return dumper.represent_scalar(tagged.tag, str(tagged.value))


_Loader.add_multi_constructor("!", _construct_tagged)
_Dumper.add_representer(Tagged, _represent_tagged)


def _dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


# -- the starting points -------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    name: str
    root: Path
    #: The configuration files that mutations may break, relative to the root.
    files: tuple[str, ...]


def _config_files(root: Path) -> tuple[str, ...]:
    upsun = sorted(p for p in (root / ".upsun").glob("*.y*ml"))
    if upsun:
        return tuple(str(p.relative_to(root)) for p in upsun)
    legacy = [root / ".platform.app.yaml", *sorted((root / ".platform").glob("*.yaml"))]
    return tuple(str(p.relative_to(root)) for p in legacy if p.is_file())


def _seeds() -> list[Seed]:
    roots = [EXAMPLES / "workers"] + [CORPUS / name for name in CORPUS_SEEDS if (CORPUS / name).is_dir()]
    return [Seed(root.name, root, _config_files(root)) for root in roots]


SEEDS = _seeds()


@pytest.mark.parametrize("seed", SEEDS, ids=[s.name for s in SEEDS])
def test_seeds_are_valid(seed: Seed) -> None:
    """Every starting point is a valid configuration, so what the mutations find is theirs."""
    loaded = read_config(seed.root)
    assert not loaded.diagnostics.errors, [f"{d.mark}: {d.message}" for d in loaded.diagnostics.errors]


# -- mutations -----------------------------------------------------------------------------

DataPath = tuple[str | int, ...]
#: One value of each type the YAML can hold; a retyped value takes one of another type.
VALUES_BY_TYPE: dict[type, tuple[Any, ...]] = {
    str: ("text", "", "python:3.12", "* * * * *"),
    int: (0, 7, -1),
    float: (2.5,),
    bool: (True, False),
    type(None): (None,),
    list: ([], ["a"], [{"k": "v"}]),
    dict: ({}, {"k": "v"}, {"start": "x"}),
}
#: Characters that mean something in YAML, plus a tab, a non-ASCII letter and a control character.
YAML_TEXT = st.lists(
    st.sampled_from(
        list("abz09_-: '\"[]{},#&*!|>%@`?\\\t\u00e9\x07\n")
        + ["!include ", "- ", ": ", "  ", "---", "&a ", "*a", "<<: "]
    ),
    max_size=20,
).map("".join)


def _paths(node: Any, prefix: DataPath = ()) -> Iterator[DataPath]:
    """Every key and list item under `node`."""
    items: Any = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield prefix + (key,)
        yield from _paths(value, prefix + (key,))


def _parent(document: Any, path: DataPath) -> Any:
    for part in path[:-1]:
        document = document[part]
    return document


def _typo(word: str, kind: int, at: int) -> str:
    at = at % max(len(word), 1)
    if kind == 0 and word:
        return word[:at] + word[at + 1 :]  # a letter dropped
    if kind == 1:
        return word[:at] + word[at : at + 1] * 2 + word[at + 1 :]  # a letter doubled
    if kind == 2 and len(word) > 1:
        at = min(at, len(word) - 2)
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]  # two letters swapped
    return word.upper() if word.islower() else word + "s"


def mutate_document(data: st.DataObject, document: Any) -> Any:
    """Apply one structural mutation to a loaded YAML document (a copy is changed)."""
    document = copy.deepcopy(document)
    paths = list(_paths(document))
    if not paths:
        return data.draw(st.sampled_from([v for vs in VALUES_BY_TYPE.values() for v in vs]), label="whole")
    path = data.draw(st.sampled_from(paths), label="path")
    parent, last = _parent(document, path), path[-1]
    kind = data.draw(st.sampled_from(["drop", "rename", "retype", "include", "include-string"]), label="mutation")
    if kind == "drop":
        del parent[last]
    elif kind == "rename" and isinstance(last, str):
        typo = _typo(last, data.draw(st.integers(0, 3)), data.draw(st.integers(0, 40)))
        parent[typo] = parent.pop(last)
    elif kind in {"retype", "rename"}:  # a list item has no name to misspell: it is retyped
        other = [vs for t, vs in VALUES_BY_TYPE.items() if not isinstance(parent[last], t)]
        parent[last] = copy.deepcopy(data.draw(st.sampled_from([v for vs in other for v in vs]), label="value"))
    elif kind == "include":
        parent[last] = Tagged("!include", "missing/nowhere.yaml")
    else:
        parent[last] = Tagged("!include", {"type": "string", "path": "missing.txt"})
    return document


def mutate_text(data: st.DataObject, text: str) -> bytes:
    """Apply one textual mutation: stray text, a duplicated key line, or a cut at any byte."""
    lines = text.splitlines(keepends=True)
    kind = data.draw(st.sampled_from(["insert", "duplicate", "truncate"]), label="text mutation")
    if kind == "insert":
        at = data.draw(st.integers(0, len(lines)), label="line")
        indent = " " * data.draw(st.integers(0, 8), label="indent")
        lines.insert(at, indent + data.draw(YAML_TEXT, label="text") + "\n")
    elif kind == "duplicate":
        keyed = [i for i, line in enumerate(lines) if ":" in line and not line.lstrip().startswith(("#", "-"))]
        if keyed:
            at = data.draw(st.sampled_from(keyed), label="line")
            lines.insert(at + 1, lines[at])
    else:
        raw = text.encode("utf-8")
        return raw[: data.draw(st.integers(0, len(raw)), label="cut")]
    return "".join(lines).encode("utf-8")


def check_diagnostics_only(root: Path) -> LoadedConfig:
    """Read the project: only diagnostics, each placed and printable; a valid one also resolves."""
    loaded = read_config(root)
    for diagnostic in loaded.diagnostics:
        mark = diagnostic.mark
        assert mark is not None and mark.line >= 1 and mark.column >= 1, diagnostic
        assert render_diagnostic(diagnostic, loaded.positions.sources)
    if not loaded.diagnostics.has_errors():
        resolve_project(loaded, HostFacts.for_project(root))
    return loaded


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_configuration_gives_diagnostics_never_an_exception(data: st.DataObject) -> None:
    """A valid project with one file mutated (structure, then text) reads to diagnostics only, and resolves when valid."""
    seed = data.draw(st.sampled_from(SEEDS), label="seed")
    file = data.draw(st.sampled_from(seed.files), label="file")
    text = (seed.root / file).read_text(encoding="utf-8")
    try:
        document = yaml.load(text, Loader=_Loader)  # a SafeLoader that keeps custom tags as `Tagged`
    except yaml.YAMLError:
        document = None
    if document is not None:
        for _ in range(data.draw(st.integers(0, 3), label="structural mutations")):
            document = mutate_document(data, document)
        text = _dump(document)
    raw = text.encode("utf-8")
    for _ in range(data.draw(st.integers(0 if document is not None else 1, 2), label="text mutations")):
        raw = mutate_text(data, raw.decode("utf-8", errors="replace"))
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp) / "project"
        copy_project(seed.root, root)
        (root / file).write_bytes(raw)
        loaded = check_diagnostics_only(root)
    codes = sorted({d.code for d in loaded.diagnostics.errors})
    event("valid" if not codes else f"errors: {', '.join(codes[:3])}")


def test_seed_example_cut_at_every_byte_gives_diagnostics_only(tmp_path: Path) -> None:
    """The seed example cut short at each of its bytes reads to diagnostics only (and resolves when valid)."""
    raw = (EXAMPLES / "workers" / ".upsun" / "config.yaml").read_bytes()
    config = tmp_path / ".upsun" / "config.yaml"
    config.parent.mkdir()
    for cut in range(len(raw) + 1):
        config.write_bytes(raw[:cut])
        check_diagnostics_only(tmp_path)


def test_a_users_state_folder_is_not_copied_with_a_seed(tmp_path: Path) -> None:
    """A seed with a large `.sunup/` left by a user's run (thousands of files, a control socket) copies fast, without it."""
    example = tmp_path / "workers"
    shutil.copytree(EXAMPLES / "workers", example, ignore=shutil.ignore_patterns(".sunup", "__pycache__"))
    state = example / ".sunup"
    for index in range(4000):  # what `sunup up` leaves: builds, logs, service data
        folder = state / "builds" / f"b{index // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index}").write_bytes(b"x" * 512)
    with socket.socket(socket.AF_UNIX) as control:  # a supervisor still running: its control socket
        control.bind(str(state / "control.sock"))
        started = time.monotonic()
        copy = copy_project(example, tmp_path / "copy")
        elapsed = time.monotonic() - started
    assert not (copy / ".sunup").exists(), "the state folder was copied"
    assert (copy / ".upsun" / "config.yaml").is_file() and (copy / "web.py").is_file()
    assert elapsed < 1.0, f"copying the seed took {elapsed:.1f} s"
    assert not check_diagnostics_only(copy).diagnostics.has_errors()
