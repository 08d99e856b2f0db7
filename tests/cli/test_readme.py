"""The README and the docs promise only what exists: commands, their options, files, interpreters."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from sunup.cli import cli
from tests.conftest import REPO

DOCUMENTS = [REPO / "README.md", REPO / "bench" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: A command line as the docs write it: `sunup ...`, `.venv/bin/sunup ...`, `$ sunup ...`.
_COMMAND = re.compile(r"^(?:\$\s+)?(?:\S*/)?sunup\s+(.+)$")
#: A path of the repository named in the text.
#: (Not one quoted in an example message, such as `the included file 'scripts/build.sh' ...`.)
_PATH = re.compile(r"(?<![\w./'-])((?:bench|docs|examples|scripts|sunup|tests)/[\w./-]*[\w/])")


def _command_lines(text: str) -> Iterator[str]:
    """What follows `sunup` in each code span and each line of a fenced block (one per `&&` part)."""
    fenced = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
    candidates = [line for block in fenced for line in block.splitlines()]
    candidates += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    for candidate in candidates:
        for part in candidate.split("&&"):
            match = _COMMAND.match(part.strip())
            if match:
                yield match.group(1)


def _options(command: click.Command) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)}


def test_every_command_the_docs_show_exists_with_its_options() -> None:
    """Each `sunup CMD [options]` in the README, bench/README.md and docs/ is a command of `sunup --help`
    with those options."""
    ctx = click.Context(cli)
    names = set(cli.list_commands(ctx))
    global_options = _options(cli)
    problems = []
    seen = 0
    for document in DOCUMENTS:
        for line in _command_lines(document.read_text()):
            words = line.split()
            while words and words[0] in global_options:
                words = words[2:] if words[0] in ("-C", "--project-dir") else words[1:]
            if not words or not re.fullmatch(r"[a-z][a-z:-]*", words[0]):
                continue
            name, rest = words[0], words[1:]
            seen += 1
            command = cli.get_command(ctx, name)
            if name not in names or command is None:
                problems.append(f"{document.name}: `sunup {line}`: no command '{name}'")
                continue
            while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
                sub = command.get_command(ctx, rest[0])  # `sunup export kubernetes ...`
                if sub is None:
                    problems.append(f"{document.name}: `sunup {line}`: '{name}' has no command '{rest[0]}'")
                    break
                name, command, rest = f"{name} {rest[0]}", sub, rest[1:]
            known = _options(command) | global_options | {"-h", "--help"}
            for word in rest[: rest.index("--")] if "--" in rest else rest:
                flag = re.match(r"^[\[(|]*(--?[a-zA-Z][\w-]*)", word)
                if flag and flag.group(1) not in known:
                    problems.append(f"{document.name}: `sunup {line}`: '{name}' has no option {flag.group(1)}")
    assert seen >= 30, f"only {seen} commands found in the docs: is the parsing broken?"
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("document", DOCUMENTS, ids=[str(d.relative_to(REPO)) for d in DOCUMENTS])
def test_every_file_the_docs_name_exists(document: Path) -> None:
    """Each repository path the text names (bench/run.py, docs/deploy.md, sunup/plan/model.py...) exists."""
    text = document.read_text()
    named = set(_PATH.findall(text)) | set(re.findall(r"\]\(((?!https?:|#)[^)#\s]+)", text))
    missing = []
    for path in sorted(named):
        if path.startswith("bench/.venv"):  # made by the first benchmark run
            continue
        if not ((document.parent / path).exists() or (REPO / path).exists()):
            missing.append(path)
    assert not missing, f"{document.relative_to(REPO)} names files that do not exist: {missing}"


def test_benchmarks_run_with_the_projects_own_interpreter() -> None:
    """bench/README.md and the README run benchmarks with `.venv/bin/python`, no machine's own path."""
    for document in (REPO / "README.md", REPO / "bench" / "README.md"):
        text = document.read_text()
        runs = re.findall(r"([\w./-]*python[\w.]*) bench/\w+\.py", text)
        assert runs, f"{document.relative_to(REPO)} shows no benchmark command"
        assert set(runs) == {".venv/bin/python"}, f"{document.relative_to(REPO)}: {sorted(set(runs))}"
        assert not re.search(r"(?<![\w.])/(?:work|home|root|usr)/\S*python", text), document.name
