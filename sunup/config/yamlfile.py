"""YAML with positions: plain data plus where every key and value was written.

PyYAML composes a node tree that keeps each node's start and end; this module turns that tree
into plain Python data (dicts, lists, scalars) and records the marks of every key and value in
a `Positions` index keyed by the data path. Upsun's custom tags are handled here:

- ``!include path`` / ``!include {type: yaml|string|binary, path: ...}``: the file's YAML
  (with its own positions), its text, or its bytes in base64;
- ``!archive "dir"``: the folder's path, kept as a string (the platform ships it as an archive).

Nothing here raises for a user mistake: syntax errors, duplicate keys, unknown tags and missing
includes become diagnostics.
"""

from __future__ import annotations

import base64
import datetime
import errno
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml import nodes
from yaml.constructor import ConstructorError, SafeConstructor

from sunup.config.diagnostics import Diagnostics, Mark

DataPath = tuple[str | int, ...]

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_MAX_INCLUDE_DEPTH = 16
#: Largest configuration file read (docs/diagnostics.md, `file-unreadable`).
MAX_FILE_SIZE = 10 * 1024 * 1024
#: Most bytes read for one configuration, includes counted each time (an include repeated
#: a thousand times would otherwise fill the memory).
MAX_TOTAL_SIZE = 4 * MAX_FILE_SIZE
#: How many values aliases may repeat in all (a "billion laughs" file expands exponentially).
MAX_ALIAS_VALUES = 100_000
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
#: What is left open when the parser meets the end of the file, by the parser's context.
_UNCLOSED = {
    "while scanning a quoted scalar": "this quoted string is never closed: the closing quote is missing",
    "while parsing a flow sequence": "this '[' list is never closed: the ']' is missing",
    "while parsing a flow mapping": "this '{' mapping is never closed: the '}' is missing",
}


def render_path(path: DataPath) -> str:
    """A data path as it reads in a file: ``applications.app.workers.queue`` or ``items[2]``.

    The staging prefix a file is read under before merging (``#0``, ``#app`` 3) is left out.
    """
    if path and isinstance(path[0], str) and path[0].startswith("#"):
        path = path[2:] if len(path) > 1 and isinstance(path[1], int) else path[1:]
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            # A key with dots, slashes or spaces (a route URL, a mount path) is quoted to read as one.
            shown = part if _PLAIN_KEY.fullmatch(part) else f'"{part}"'
            out += ("." if out else "") + shown
    return out


@dataclass
class Positions:
    """Where each key and value of the merged configuration was written."""

    keys: dict[DataPath, Mark] = field(default_factory=dict)
    values: dict[DataPath, Mark] = field(default_factory=dict)
    #: The text of every file read, by the name marks use, for rendering source lines.
    sources: dict[str, str] = field(default_factory=dict)

    def key(self, path: DataPath) -> Mark | None:
        """The mark of the key at `path`, else of its value, else of the closest ancestor."""
        return self.keys.get(path) or self.value(path)

    def value(self, path: DataPath) -> Mark | None:
        """The mark of the value at `path`, else of the closest ancestor's key or value."""
        while True:
            mark = self.values.get(path) or (self.keys.get(path) if path else None)
            if mark is not None or not path:
                return mark
            path = path[:-1]

    def rebase(self, old: DataPath, new: DataPath) -> None:
        """Move every mark recorded under `old` to sit under `new` (used when merging)."""
        for table in (self.keys, self.values):
            moved = {new + p[len(old) :]: m for p, m in table.items() if p[: len(old)] == old}
            for p in [p for p in table if p[: len(old)] == old]:
                del table[p]
            table.update(moved)

    def absorb(self, other: Positions, prefix: DataPath) -> None:
        """Copy the marks `other` holds under `prefix` (all of them when `prefix` is empty)."""
        for mine, theirs in ((self.keys, other.keys), (self.values, other.values)):
            if not prefix:
                mine.update(theirs)
            else:
                mine.update({p: m for p, m in theirs.items() if p[: len(prefix)] == prefix})

    def drop(self, prefix: DataPath) -> None:
        for table in (self.keys, self.values):
            for p in [p for p in table if p[: len(prefix)] == prefix]:
                del table[p]


#: Finds an included file: (written path, including file) -> real path, or None if absent.
IncludeResolver = Callable[[str, Path], Path | None]


def _runaway_quote(text: str, problem: Any) -> Any:
    """The start of a quoted string that spans lines and ends just before `problem`, if any.

    An unclosed quote usually closes at the next quote of the file, lines later; the parser
    then fails right after it, far from the mistake. The string's start is the place to fix.
    """
    last: Any = None
    try:
        for token in yaml.scan(text, Loader=_Loader):
            if token.end_mark.index > problem.index:
                break
            last = token
    except yaml.YAMLError:
        pass
    if (
        isinstance(last, yaml.ScalarToken)
        and last.style in ('"', "'")
        and last.start_mark.line < last.end_mark.line == problem.line
    ):
        return last.start_mark
    return None


def _syntax_hint(problem: str, found: str) -> str | None:
    """What to do about a YAML syntax `problem` met at the character `found`."""
    if found == "\t" or "tab" in problem:
        return "indent with spaces: YAML does not allow tabs in indentation"
    if problem.startswith("mapping values are not allowed"):
        return "check the indentation of this line, or quote a value that contains ': '"
    if "unknown escape character" in problem:
        return "in double quotes a backslash starts an escape: write \\\\ for one, or use single quotes"
    if found in ("@", "`") and "cannot start any token" in problem:
        return f"a value that starts with '{found}' must be quoted"
    return None


class NotAFileError(Exception):
    """A configuration path that is not a regular file of a sensible size (its message says why)."""


def _read_bytes(path: Path, name: str, room: int = MAX_TOTAL_SIZE) -> bytes:
    """The content of the regular file `path`; `NotAFileError` for a folder, a FIFO or a device
    (reading one would block or never end), for a file over `MAX_FILE_SIZE`, and for one over
    the `room` left of `MAX_TOTAL_SIZE`."""
    info = path.stat()
    if stat.S_ISDIR(info.st_mode):
        raise NotAFileError(f"{name} is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise NotAFileError(f"{name} is not a regular file (a FIFO, a socket or a device)")
    if info.st_size > MAX_FILE_SIZE:
        raise NotAFileError(
            f"{name} is {info.st_size / 1024 / 1024:.1f} MiB: a configuration file is at most "
            f"{MAX_FILE_SIZE // 1024 // 1024} MiB"
        )
    if info.st_size > room:
        raise NotAFileError(
            f"reading {name} would take the files and includes of the configuration over "
            f"{MAX_TOTAL_SIZE // 1024 // 1024} MiB in all"
        )
    with path.open("rb") as stream:
        return stream.read(min(room, MAX_FILE_SIZE) + 1)


class YamlReader:
    """Reads YAML files into plain data, recording positions and diagnostics."""

    def __init__(
        self,
        root: Path,
        positions: Positions,
        diagnostics: Diagnostics,
        resolve_include: IncludeResolver,
    ) -> None:
        self._root = root
        self.positions = positions
        self.diagnostics = diagnostics
        self._resolve_include = resolve_include
        self._constructor = SafeConstructor()
        #: The files being read, outermost first: an include of one of them is a loop.
        self._reading: list[Path] = []
        #: The mappings and lists being converted: an alias to one of them is a cycle.
        self._converting: set[int] = set()
        #: The nodes converted (kept, so that their ids stay theirs), and how many values
        #: aliases repeated: over `MAX_ALIAS_VALUES`, aliases are not expanded any more.
        self._converted: dict[int, nodes.Node] = {}
        self._repeated = 0
        #: Bytes read so far (at most MAX_TOTAL_SIZE).
        self._total = 0

    def display_name(self, path: Path) -> str:
        try:
            resolved = (path.resolve(), self._root.resolve())
        except (OSError, RuntimeError):  # a symbolic link loop: the path as written
            resolved = (path, self._root)
        for candidate, root in ((path, self._root), resolved):
            try:
                return str(candidate.relative_to(root))
            except ValueError:
                continue
        return str(path)

    def read_file(self, path: Path, prefix: DataPath = ()) -> Any:
        """Parse one file; returns its data (None when empty or unreadable)."""
        name = self.display_name(path)
        try:
            content = _read_bytes(path, name, MAX_TOTAL_SIZE - self._total)
            self._total += len(content)
            text = content.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # as text mode reads
        except UnicodeDecodeError as exc:
            self.diagnostics.error(
                "file-encoding",
                f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start})",
                Mark(name, 1, 1),
            )
            return None
        except NotAFileError as exc:
            self.diagnostics.error("file-unreadable", str(exc), Mark(name, 1, 1))
            return None
        except OSError as exc:
            message = f"cannot read {name}: {exc.strerror}"
            if exc.errno == errno.ELOOP:
                message = f"{name} is a symbolic link that leads back to itself (a loop)"
            elif path.is_symlink() and not path.exists():
                message = f"{name} is a symbolic link to '{path.readlink()}', which does not exist"
            self.diagnostics.error("file-unreadable", message, Mark(name, 1, 1))
            return None
        self._reading.append(path.resolve())
        try:
            return self.read_text(text, name, path, prefix)
        finally:
            self._reading.pop()

    def read_text(self, text: str, name: str, path: Path, prefix: DataPath = ()) -> Any:
        self.positions.sources[name] = text
        try:
            node = yaml.compose(text, Loader=_Loader)
        except yaml.MarkedYAMLError as exc:
            self._syntax_error(exc, text, name)
            return None
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, exc.position) + 1
            column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
            self.diagnostics.error(
                "yaml-syntax",
                f"character #x{exc.character:04x} is not allowed in YAML: {exc.reason}",
                Mark(name, line, column),
                hint=f"remove it, or write it as the escape \\x{exc.character:02x} inside double quotes"
                if exc.character < 0x100
                else None,
            )
            return None
        except yaml.YAMLError as exc:
            self.diagnostics.error("yaml-syntax", str(exc), Mark(name, 1, 1))
            return None
        if node is None:
            return None
        return self._convert(node, name, path, prefix)

    def _syntax_error(self, exc: yaml.MarkedYAMLError, text: str, name: str) -> None:
        """A YAML syntax error, placed where the user can fix it.

        The parser stops at the end of the file when a quote or bracket is never closed, and on
        the line after a key without ':'; the useful place is then where the construct starts
        (the error's context mark).
        """
        problem, context = exc.problem or "invalid YAML", exc.context
        problem_mark, context_mark = exc.problem_mark, exc.context_mark
        found = text[problem_mark.index : problem_mark.index + 1] if problem_mark is not None else ""
        at_end = problem_mark is not None and not text[problem_mark.index :].strip()
        runaway = _runaway_quote(text, problem_mark) if problem_mark is not None else None
        related = None
        hint = _syntax_hint(problem, found)
        place = problem_mark or context_mark
        if context_mark is not None and (problem_mark is None or (at_end and context in _UNCLOSED)):
            place, message = context_mark, _UNCLOSED.get(context or "", f"{problem} ({context})")
        elif context_mark is not None and context == "while scanning a simple key":
            place, message = context_mark, "this key is not followed by ':'"
            hint = "write `key: value`, or `- item` for an item of a list"
        elif runaway is not None and problem_mark is not None:
            place = runaway
            message = (
                f"this quoted string runs on to line {problem_mark.line + 1}, where the YAML breaks "
                f"({problem}): its closing quote is probably missing"
            )
            related = Mark(name, problem_mark.line + 1, problem_mark.column + 1)
        else:
            if context and problem.startswith("but "):
                message = f"{context}, {problem}"
            else:
                message = f"{problem} ({context})" if context else problem
            if context_mark is not None and problem_mark is not None and context_mark.line != problem_mark.line:
                related = Mark(name, context_mark.line + 1, context_mark.column + 1)
                if hint is None and context == "while parsing a block mapping":
                    hint = f"check this line's indentation against the mapping that starts at {related}"
        if found == "\t" and place is problem_mark:
            message = "a tab character cannot indent YAML"
        where = Mark(name, place.line + 1, place.column + 1) if place else Mark(name, 1, 1)
        self.diagnostics.error("yaml-syntax", message, where, hint=hint, related=related)

    # -- node tree to plain data -----------------------------------------------------------

    @staticmethod
    def _mark(node: nodes.Node, name: str) -> Mark:
        start, end = node.start_mark, node.end_mark
        width = end.column - start.column if end.line == start.line else 1
        return Mark(name, start.line + 1, start.column + 1, max(width, 1))

    def _convert(self, node: nodes.Node, name: str, file: Path, path: DataPath) -> Any:
        if id(node) in self._converted:  # an alias: its value is converted once more
            self._repeated += 1
            if self._repeated > MAX_ALIAS_VALUES:
                if self._repeated == MAX_ALIAS_VALUES + 1:
                    self.diagnostics.error(
                        "yaml-value",
                        f"aliases repeat more than {MAX_ALIAS_VALUES} values: the configuration would never end",
                        self._mark(node, name),
                        path=render_path(path),
                        hint="aliases of aliases multiply: write the values out, or use fewer levels",
                    )
                return None
        else:
            self._converted[id(node)] = node
        self.positions.values[path] = self._mark(node, name)
        if node.tag == "!include":
            return self._include(node, name, file, path)
        if node.tag == "!archive":
            return self._archive(node, name, file, path)
        if not isinstance(node, nodes.CollectionNode):
            return self._scalar(node, name, path)
        if id(node) in self._converting:  # `app: &a {x: *a}`: an alias inside its own anchor
            self.diagnostics.error(
                "yaml-value",
                "this anchored value holds an alias to itself, so it would never end",
                self._mark(node, name),
                path=render_path(path),
            )
            return None
        self._converting.add(id(node))
        try:
            if isinstance(node, nodes.MappingNode):
                return self._mapping(node, name, file, path)
            if node.tag.startswith("!"):
                self._unknown_tag(node, name, path)
            return [self._convert(item, name, file, path + (i,)) for i, item in enumerate(node.value)]
        finally:
            self._converting.discard(id(node))

    def _mapping(self, node: nodes.MappingNode, name: str, file: Path, path: DataPath) -> Any:
        if node.tag.startswith("!"):
            self._unknown_tag(node, name, path)
        result: dict[str, Any] = {}
        explicit: set[str] = set()
        merged: list[nodes.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(value_node.value if isinstance(value_node, nodes.SequenceNode) else [value_node])
                continue
            key = self._key(key_node, name, path)
            if key is None:
                continue
            key_path = path + (key,)
            key_mark = self._mark(key_node, name)
            if key in explicit:
                first = self.positions.keys.get(key_path)
                self.diagnostics.error(
                    "duplicate-key",
                    f"'{key}' is defined twice in {render_path(path) or 'the document'}",
                    key_mark,
                    path=render_path(key_path),
                    hint=f"the first definition is at {first}; YAML keeps only one of them" if first else None,
                    related=first,
                )
                continue
            explicit.add(key)
            self.positions.keys[key_path] = key_mark
            result[key] = self._convert(value_node, name, file, key_path)
        for source in merged:  # YAML merge keys (`<<: *base`): explicit keys win, then earlier merges
            self._merge(result, source, name, file, path)
        return result

    def _merge(self, result: dict[str, Any], source: nodes.Node, name: str, file: Path, path: DataPath) -> None:
        """Merge the mapping `source` into `result`; the keys it adds keep their marks."""
        staging = path + ("<<",)
        data = self._convert(source, name, file, staging)
        added = {key for key in data if key not in result} if isinstance(data, dict) else set()
        if isinstance(data, dict):
            result.update((key, data[key]) for key in added)
        elif data is not None:
            self.diagnostics.error(
                "yaml-value", "`<<` merges mappings only", self._mark(source, name), path=render_path(path)
            )
        depth = len(staging)
        for table in (self.positions.keys, self.positions.values):
            for at in [at for at in table if at[:depth] == staging]:
                mark = table.pop(at)
                if len(at) > depth and at[depth] in added:
                    table[path + at[depth:]] = mark

    def _key(self, node: nodes.Node, name: str, path: DataPath) -> str | None:
        if not isinstance(node, nodes.ScalarNode):
            self.diagnostics.error(
                "complex-key",
                "a mapping key must be a plain value, not a list or a mapping",
                self._mark(node, name),
                path=render_path(path),
            )
            return None
        value = self._scalar(node, name, path)
        return (
            value
            if isinstance(value, str)
            else ("null" if value is None else str(value).lower() if isinstance(value, bool) else str(value))
        )

    def _scalar(self, node: nodes.Node, name: str, path: DataPath) -> Any:
        if node.tag == _STR_TAG:
            return node.value
        if node.tag.startswith("!") and not node.tag.startswith("!!"):
            self._unknown_tag(node, name, path)
            return node.value if isinstance(node.value, str) else None
        try:
            value = self._constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            self.diagnostics.error(
                "yaml-value", exc.problem or "invalid value", self._mark(node, name), path=render_path(path)
            )
            return None
        except ValueError:  # `!!int abc`, `!!float x`: PyYAML's constructors raise a bare ValueError
            self.diagnostics.error(
                "yaml-value",
                f"'{node.value}' is not a valid {node.tag.rsplit(':', 1)[-1]}",
                self._mark(node, name),
                path=render_path(path),
            )
            return None
        if isinstance(value, datetime.date | datetime.datetime):
            return node.value  # dates stay as written: Upsun reads them as strings
        if isinstance(value, bytes):
            return base64.b64encode(value).decode("ascii")
        return value

    def _unknown_tag(self, node: nodes.Node, name: str, path: DataPath) -> None:
        self.diagnostics.error(
            "unknown-tag",
            f"unknown tag '{node.tag}'",
            self._mark(node, name),
            path=render_path(path),
            hint="Upsun understands !include and !archive",
        )

    # -- Upsun's tags ----------------------------------------------------------------------

    def _include(self, node: nodes.Node, name: str, file: Path, path: DataPath) -> Any:
        mark = self._mark(node, name)
        kind, target = "yaml", None
        if isinstance(node, nodes.ScalarNode):
            target = node.value
        elif isinstance(node, nodes.MappingNode):
            spec = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, nodes.ScalarNode) and isinstance(value_node, nodes.ScalarNode):
                    spec[key_node.value] = value_node.value
                    if key_node.value not in ("type", "path"):
                        self.diagnostics.error(
                            "include-form",
                            f"'{key_node.value}' is not a key of !include (expected 'type' and 'path')",
                            self._mark(key_node, name),
                            path=render_path(path),
                        )
            kind, target = spec.get("type", "yaml"), spec.get("path")
        if not target:
            self.diagnostics.error(
                "include-form",
                "!include needs a path: `!include file.yaml` or `!include {type: string, path: file}`",
                mark,
                path=render_path(path),
            )
            return None
        if kind not in ("yaml", "string", "binary"):
            self.diagnostics.error(
                "include-form",
                f"'{kind}' is not an !include type (expected yaml, string or binary)",
                mark,
                path=render_path(path),
            )
            return None
        found = self._resolve_include(target, file)
        if found is None:
            self.diagnostics.error(
                "include-missing",
                f"the included file '{target}' does not exist",
                mark,
                path=render_path(path),
                hint=f"paths are relative to the folder of {name}, or to the project root",
            )
            return None
        if not found.is_relative_to(self._root.resolve()):
            self.diagnostics.error(
                "include-outside",
                f"'{target}' is outside the project",
                mark,
                path=render_path(path),
                hint="Upsun builds from the repository alone: an included file must be part of it",
            )
            return None
        if found.is_dir():
            self.diagnostics.error(
                "include-unreadable",
                f"'{target}' is a folder, not a file",
                mark,
                path=render_path(path),
                hint="!archive ships a folder",
            )
            return None
        if found in self._reading or len(self._reading) > _MAX_INCLUDE_DEPTH:
            self.diagnostics.error(
                "include-loop", f"'{target}' includes itself (directly or not)", mark, path=render_path(path)
            )
            return None
        if kind == "yaml":
            return self.read_file(found, path)
        try:
            content = _read_bytes(found, target, MAX_TOTAL_SIZE - self._total)
            self._total += len(content)
        except NotAFileError as exc:
            self.diagnostics.error("include-unreadable", str(exc), mark, path=render_path(path))
            return None
        except OSError as exc:
            said = "is a symbolic link that leads back to itself (a loop)" if exc.errno == errno.ELOOP else None
            self.diagnostics.error(
                "include-unreadable",
                f"'{target}' {said}" if said else f"cannot read '{target}': {exc.strerror}",
                mark,
                path=render_path(path),
            )
            return None
        if kind == "binary":
            return base64.b64encode(content).decode("ascii")
        try:
            return content.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.diagnostics.error(
                "include-unreadable",
                f"'{target}' is not UTF-8 text ({exc.reason} at byte {exc.start})",
                mark,
                path=render_path(path),
                hint="include it with `!include {type: binary, path: ...}` to get it in base64",
            )
            return None

    def _archive(self, node: nodes.Node, name: str, file: Path, path: DataPath) -> Any:
        mark = self._mark(node, name)
        if not isinstance(node, nodes.ScalarNode) or not node.value:
            self.diagnostics.error(
                "archive-form", '!archive takes a folder: `!archive "conf"`', mark, path=render_path(path)
            )
            return None
        if self._resolve_include(node.value, file) is None:
            self.diagnostics.warning(
                "archive-missing",
                f"the archived folder '{node.value}' does not exist",
                mark,
                path=render_path(path),
            )
        return node.value
