"""Bad configurations through `sunup validate`, `sunup config` and `sunup up`.

The broken cases of tests/data/broken/, the corpus projects known to be invalid, and faults made
here (byte flips, truncations, invalid UTF-8, a 50 MB file, deep nesting, a "billion laughs"
alias bomb, tabs, duplicate keys, a folder or a FIFO where a file belongs, unreadable files and
folders, symbolic link loops, `!include` of a missing file or of itself): every one ends, without
a traceback, with exit status 3 (invalid; 4 where there is no project at all), errors that name
a file and a line, and a failed `up` leaves no `.sunup` state folder.

Most cases run in-process (`sunup.cli.main`, a few milliseconds each); a sample and every case
that could hang or blow up run as real processes with a timeout.
"""

from __future__ import annotations

import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sunup.cli import main
from sunup.config.yamlfile import MAX_ALIAS_VALUES, MAX_FILE_SIZE, MAX_TOTAL_SIZE
from sunup.errors import EXIT_INVALID_CONFIG, EXIT_NO_PROJECT, EXIT_OK
from tests.config.test_broken import CASES as BROKEN_CASES
from tests.config.test_broken import Case
from tests.config.test_corpus import CASES as CORPUS_CASES
from tests.config.test_corpus import KNOWN_INVALID
from tests.conftest import REPO

#: A valid project to break: a web instance, a worker, a service, a route and an include.
SEED = """\
applications:
  app:
    type: python:3.12
    relationships:
      database: "db:mysql"
    web:
      commands:
        start: !include {type: string, path: start.sh}
    workers:
      queue:
        commands:
          start: "exec sleep 1000"
    mounts:
      uploads:
        source: storage
    crons:
      nightly:
        spec: "0 3 * * *"
        commands:
          start: "echo nightly"
services:
  db:
    type: mariadb:11.4
routes:
  "https://{default}/":
    type: upstream
    upstream: "app:http"
"""
START = "exec sleep 1000\n"
#: A diagnostic line as the CLI prints it: file:line:column: error[code]: message.
ERROR_LINE = re.compile(r"^(\S[^:]*):(\d+):(\d+): error\[([a-z-]+)\]: ", re.MULTILINE)
#: The longest a real `sunup` process may take on one bad configuration.
PROCESS_TIMEOUT = 60.0
OTHER_UID = 65534
COMMANDS = ("validate", "config", "up")


def run_main(root: Path, command: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`sunup -C root COMMAND` in-process: its exit status and what it printed on stderr."""
    capsys.readouterr()
    try:
        main(["-C", str(root), command])
        status: object = 0
    except SystemExit as exited:
        status = exited.code
    captured = capsys.readouterr()
    assert isinstance(status, int), f"{command} exited with {status!r}"
    return status, captured.err


def run_process(root: Path, command: str, *, user: int | None = None) -> subprocess.CompletedProcess[str]:
    """`sunup COMMAND` as a real process in `root` (as the user `user`), with a timeout."""
    prefix: list[str] = []
    if user is not None:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("setpriv is not installed")
        prefix = [setpriv, f"--reuid={user}", f"--regid={user}", "--clear-groups"]
    env = {**os.environ, "NO_COLOR": "1", "SUNUP_STOP_GRACE": "1", "PYTHONPATH": str(REPO)}
    env.pop("SUNUP_STATE_DIR", None)
    try:
        return subprocess.run(
            [*prefix, sys.executable, "-m", "sunup", command],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=PROCESS_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`sunup {command}` in {root} still ran after {PROCESS_TIMEOUT:g} s")


def assert_refused(status: int, err: str, what: str, *, expected: int = EXIT_INVALID_CONFIG) -> None:
    """Exit status `expected`, no traceback, and (when invalid) errors that name a file and a line."""
    assert "Traceback" not in err, f"{what}: a traceback\n{err}"
    assert status == expected, f"{what}: exit status {status}, not {expected}\n{err}"
    if expected == EXIT_INVALID_CONFIG:
        assert ERROR_LINE.search(err), f"{what}: no error names a file and a line\n{err}"


def assert_no_state(root: Path, what: str) -> None:
    assert not (root / ".sunup").exists(), f"{what}: a failed `sunup up` left {root / '.sunup'}"


def check_all(root: Path, capsys: pytest.CaptureFixture[str], what: str, *, expected: int = EXIT_INVALID_CONFIG) -> str:
    """validate, config and up in-process: each refuses the project the same way; up makes no state."""
    said = ""
    for command in COMMANDS:
        status, err = run_main(root, command, capsys)
        assert_refused(status, err, f"{what}: sunup {command}", expected=expected)
        said = said or err
    assert_no_state(root, what)
    return said


def check_processes(root: Path, what: str, *, expected: int = EXIT_INVALID_CONFIG, user: int | None = None) -> str:
    """validate, config and up as real processes (each bounded by PROCESS_TIMEOUT)."""
    said = ""
    for command in COMMANDS:
        result = run_process(root, command, user=user)
        assert_refused(result.returncode, result.stderr, f"{what}: sunup {command}", expected=expected)
        said = said or result.stderr
    assert_no_state(root, what)
    return said


def copy_project(source: Path, target: Path) -> Path:
    """A copy of a project (symbolic links kept as links), so that `up` writes nothing in the original."""
    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(".sunup", ".git"))
    for folder, _, _ in os.walk(target):  # the shared corpus has no write bits
        os.chmod(folder, 0o755)
    if (target / ".platform").is_dir():
        (target / ".git").mkdir()  # what marks the root of a Platform.sh project with apps in folders
    return target


@pytest.fixture
def seed(tmp_path: Path) -> Callable[[bytes], Path]:
    """Makes a project from SEED with .upsun/config.yaml replaced by the given bytes."""
    count = 0

    def make(config: bytes) -> Path:
        nonlocal count
        count += 1
        root = tmp_path / f"p{count}"
        (root / ".upsun").mkdir(parents=True)
        (root / ".upsun" / "config.yaml").write_bytes(config)
        (root / ".upsun" / "start.sh").write_text(START, encoding="utf-8")
        return root

    return make


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder any user can traverse (pytest's are 0700), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="sunup-bad-config-"))
    folder.chmod(0o755)
    yield folder
    for path in folder.rglob("*"):  # let rmtree into the folders a test locked
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)


def test_the_seed_is_valid(seed: Callable[[bytes], Path], capsys: pytest.CaptureFixture[str]) -> None:
    """The starting point of the generated faults is valid (else every fault proves nothing)."""
    status, err = run_main(seed(SEED.encode()), "validate", capsys)
    assert status == EXIT_OK, err


# -- The broken cases and the known-invalid corpus -------------------------------------------


@pytest.mark.parametrize("case", BROKEN_CASES, ids=[c.name for c in BROKEN_CASES])
def test_broken_case_through_every_command(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each tests/data/broken case: validate, config and up exit 3 naming its first error's file
    and line, without a traceback, and up leaves no state."""
    root = copy_project(case.root, tmp_path / "project")
    said = check_all(root, capsys, case.name)
    first = next(e for e in case.expected if e.severity == "error")
    assert f"{first.file}:{first.line}:{first.column}: error[{first.code}]" in said


INVALID_CORPUS = [c for c in CORPUS_CASES if c[0] in KNOWN_INVALID or c[0].split("#")[0] in KNOWN_INVALID]


@pytest.mark.skipif(not INVALID_CORPUS, reason="the shared corpus is not there")
@pytest.mark.parametrize(("name", "source", "prefer"), INVALID_CORPUS, ids=[c[0] for c in INVALID_CORPUS])
def test_invalid_corpus_project_through_every_command(
    name: str, source: Path, prefer: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The corpus projects known to be invalid: refused by validate, config and up alike."""
    root = copy_project(source, tmp_path / "project")
    if prefer == "platform":
        shutil.rmtree(root / ".upsun")  # the CLI reads Upsun's files first
    check_all(root, capsys, name)


@pytest.mark.slow
def test_a_sample_as_real_processes(tmp_path: Path) -> None:
    """Every ninth broken case, as the user runs it: real processes, bounded in time."""
    for case in BROKEN_CASES[::9]:
        root = copy_project(case.root, tmp_path / case.name)
        check_processes(root, case.name)


# -- Faults made from the seed ---------------------------------------------------------------


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_byte_damage_is_answered(
    seed: Callable[[bytes], Path], capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    """Bytes flipped, dropped or inserted anywhere: validate and config answer 0 or 3, never an
    exception; an invalid result names a file and a line."""
    text = bytearray(SEED.encode())
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        at = data.draw(st.integers(0, len(text) - 1), label="at")
        kind = data.draw(st.sampled_from(["flip", "drop", "insert"]), label="kind")
        byte = data.draw(st.integers(0, 255), label="byte")
        if kind == "flip":
            text[at] ^= byte or 1
        elif kind == "drop":
            del text[at]
        else:
            text.insert(at, byte)
    root = seed(bytes(text))
    for command in ("validate", "config"):
        status, err = run_main(root, command, capsys)
        assert "Traceback" not in err
        assert status in (EXIT_OK, EXIT_INVALID_CONFIG), f"sunup {command}: {status}\n{err}"
        if status == EXIT_INVALID_CONFIG:
            assert ERROR_LINE.search(err), err


def test_truncation_at_every_seventh_byte(seed: Callable[[bytes], Path], capsys: pytest.CaptureFixture[str]) -> None:
    """The seed cut short at every 7th byte: an answer each time; up refuses what validate refuses."""
    data = SEED.encode()
    for end in range(0, len(data), 7):
        root = seed(data[:end])
        status, err = run_main(root, "validate", capsys)
        assert "Traceback" not in err and status in (EXIT_OK, EXIT_INVALID_CONFIG), f"cut at {end}: {status}\n{err}"
        if status == EXIT_INVALID_CONFIG:
            check_all(root, capsys, f"cut at byte {end}")


INVALID_UTF8 = {
    "a lone 0xff": b"\xff",
    "a cut two-byte sequence": b"\xc3",
    "an overlong slash": b"\xc0\xaf",
    "an encoded surrogate": b"\xed\xa0\x80",
    "beyond U+10FFFF": b"\xf4\x90\x80\x80",
    "Latin-1 text": "caf\u00e9".encode("latin-1"),
}


@pytest.mark.parametrize("bad", list(INVALID_UTF8.values()), ids=list(INVALID_UTF8))
def test_invalid_utf8(bad: bytes, seed: Callable[[bytes], Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Bytes that are not UTF-8, at a few places: file-encoding, naming the file, exit 3."""
    data = SEED.encode()
    for at in (0, data.index(b"queue"), len(data)):
        said = check_all(seed(data[:at] + bad + data[at:]), capsys, f"{bad!r} at byte {at}")
        assert ".upsun/config.yaml:1:1: error[file-encoding]" in said


def billion_laughs(levels: int = 12) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels)]
    return (
        "\n".join(lines)
        + f"\napplications:\n  app:\n    type: python:3.12\n    variables: {{env: {{X: *l{levels - 1}}}}}\n"
    )


#: Text faults: the configuration, the diagnostic code it must produce.
TEXT_FAULTS = {
    "tab indentation": (SEED.replace("    type: python", "\ttype: python"), "yaml-syntax"),
    "a duplicate key": (SEED.replace("services:\n", "services:\n  db:\n    type: redis:7.2\n"), "duplicate-key"),
    "a duplicate application": (SEED + "applications: {}\n", "duplicate-key"),
    "flow nesting 100000 deep": ("applications: " + "[" * 100_000 + "]" * 100_000 + "\n", "yaml-syntax"),
    "block nesting 3000 deep": (
        "applications:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 3000)),
        "yaml-syntax",
    ),
    "an alias inside its own anchor": ("applications: &a\n  app: *a\n", "yaml-value"),
    "a billion laughs": (billion_laughs(), "yaml-value"),
    "a NUL byte": (SEED.replace("queue:", "qu\0eue:"), "yaml-syntax"),
    "two documents": (SEED + "---\n" + SEED, "yaml-syntax"),
    "an include of itself": (SEED.replace("{type: string, path: start.sh}", "config.yaml"), "include-loop"),
    "an include of a missing file": (SEED.replace("path: start.sh", "path: nowhere.sh"), "include-missing"),
    "an include of a folder": (SEED.replace("path: start.sh", "path: ../.upsun"), "include-unreadable"),
    "an unknown tag": (SEED.replace("!include", "!exec"), "unknown-tag"),
    "an empty file": ("", "missing-key"),
    "only a comment": ("# nothing yet\n", "missing-key"),
    "a list at the top": ("- applications\n", "wrong-type"),
    "a key of 2 MB": ("applications:\n  " + "a" * 2_000_000 + ": {}\n", "yaml-syntax"),
    "a value of 2 MB": (SEED.replace('"0 3 * * *"', "0 3 * * " + "1" * 2_000_000), "bad-cron-spec"),
}


@pytest.mark.parametrize("name", list(TEXT_FAULTS))
def test_text_fault(name: str, seed: Callable[[bytes], Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Each text fault: validate, config and up exit 3 with its diagnostic, and no state."""
    text, code = TEXT_FAULTS[name]
    said = check_all(seed(text.encode()), capsys, name)
    assert code in {m.group(4) for m in ERROR_LINE.finditer(said)}, said
    # A source line is shown cut around the error (it used to be printed whole: 2 MB, twice).
    assert len(said) < 20_000, f"{len(said)} characters of diagnostics"


@pytest.mark.slow
def test_the_bombs_as_real_processes(seed: Callable[[bytes], Path]) -> None:
    """The faults that used to hang or take the machine's memory, as real processes: a billion
    laughs (it never ended), 3000-deep nesting, and a 50 MB file (refused by its size)."""
    said = check_processes(seed(billion_laughs().encode()), "a billion laughs")
    assert f"more than {MAX_ALIAS_VALUES} values" in said
    check_processes(seed(TEXT_FAULTS["block nesting 3000 deep"][0].encode()), "deep nesting")
    big = seed(b"")
    with (big / ".upsun" / "config.yaml").open("wb") as file:
        file.write(SEED.encode() + b"    variables:\n      env:\n")
        line = b"        X%07d: '" + b"x" * 200 + b"'\n"
        number = 0
        while file.tell() < 50 * 1024 * 1024:
            file.write(line % number)
            number += 1
    said = check_processes(big, "a 50 MB file")
    assert f"a configuration file is at most {MAX_FILE_SIZE // 1024 // 1024} MiB" in said


def test_a_folder_where_a_file_belongs(seed: Callable[[bytes], Path], capsys: pytest.CaptureFixture[str]) -> None:
    """.upsun/config.yaml is a folder: said so (it used to read as '.upsun/ holds no .yaml file')."""
    root = seed(b"")
    (root / ".upsun" / "config.yaml").unlink()
    (root / ".upsun" / "config.yaml").mkdir()
    said = check_all(root, capsys, "a folder named config.yaml")
    assert ".upsun/config.yaml:1:1: error[file-unreadable]: .upsun/config.yaml is a folder" in said


def test_upsun_is_a_file_is_no_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file named .upsun (no folder): no project, exit 4, with the hint; up makes no state."""
    root = tmp_path / "project"
    root.mkdir()
    (root / ".upsun").write_text(SEED, encoding="utf-8")
    for command in COMMANDS:
        status, err = run_main(root, command, capsys)
        assert_refused(status, err, f"sunup {command}", expected=EXIT_NO_PROJECT)
        assert "no Upsun project" in err or "project" in err
    assert_no_state(root, ".upsun is a file")


def test_symbolic_link_loops(seed: Callable[[bytes], Path], capsys: pytest.CaptureFixture[str]) -> None:
    """config.yaml a link to a link to itself, and an include of such a loop: a file-unreadable
    error that says it is a loop (it used to be a RuntimeError traceback)."""
    root = seed(b"")
    config = root / ".upsun" / "config.yaml"
    config.unlink()
    config.symlink_to("other.yaml")
    (root / ".upsun" / "other.yaml").symlink_to("config.yaml")
    said = check_all(root, capsys, "a symbolic link loop")
    assert (
        ".upsun/config.yaml:1:1: error[file-unreadable]: .upsun/config.yaml is a symbolic link that leads back" in said
    )

    included = seed(SEED.replace("path: start.sh", "path: loop.sh").encode())
    (included / ".upsun" / "loop.sh").symlink_to("loop.sh")
    said = check_all(included, capsys, "an include of a symbolic link loop")
    assert "symbolic link that leads back to itself" in said


@pytest.mark.slow
def test_fifos_are_not_read(seed: Callable[[bytes], Path]) -> None:
    """A FIFO as config.yaml (behind a link, and bare) and as an included file: refused at once
    (reading one behind a link blocked `sunup` forever; a bare one was skipped unsaid)."""
    root = seed(b"")
    config = root / ".upsun" / "config.yaml"
    config.unlink()
    os.mkfifo(root / ".upsun" / "pipe")
    config.symlink_to("pipe")
    said = check_processes(root, "a FIFO behind config.yaml")
    assert "is not a regular file" in said
    config.unlink()
    (root / ".upsun" / "pipe").rename(config)
    said = check_processes(root, "a FIFO named config.yaml")
    assert ".upsun/config.yaml:1:1: error[file-unreadable]: .upsun/config.yaml is not a regular file" in said

    included = seed(SEED.replace("path: start.sh", "path: pipe").encode())
    os.mkfifo(included / ".upsun" / "pipe")
    said = check_processes(included, "an include of a FIFO")
    assert "error[include-unreadable]: pipe is not a regular file" in said


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user (root reads every file)")
def test_unreadable_files_and_folders_as_another_user(open_folder: Path) -> None:
    """As nobody: an unreadable config.yaml, an unreadable include, an unreadable .upsun folder
    (it was an OSError traceback): exit 3 naming the file, no traceback."""

    def project(name: str, files: dict[str, str]) -> Path:
        root = open_folder / name
        for relative, text in files.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(text, encoding="utf-8")
        return root

    probe = subprocess.run(
        ["setpriv", f"--reuid={OTHER_UID}", f"--regid={OTHER_UID}", "--clear-groups", sys.executable, "-c", "1"],
        capture_output=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip("nobody cannot run this Python")
    unreadable = project("file", {".upsun/config.yaml": SEED, ".upsun/start.sh": START})
    (unreadable / ".upsun" / "config.yaml").chmod(0)
    said = check_processes(unreadable, "unreadable config.yaml", user=OTHER_UID)
    assert ".upsun/config.yaml:1:1: error[file-unreadable]: cannot read .upsun/config.yaml: Permission denied" in said

    include = project("include", {".upsun/config.yaml": SEED, ".upsun/start.sh": START})
    (include / ".upsun" / "start.sh").chmod(0)
    said = check_processes(include, "unreadable include", user=OTHER_UID)
    assert "error[include-unreadable]: cannot read 'start.sh': Permission denied" in said

    folder = project("folder", {".upsun/config.yaml": SEED, ".upsun/start.sh": START})
    (folder / ".upsun").chmod(0)
    said = check_processes(folder, "unreadable .upsun", user=OTHER_UID)
    assert ".upsun:1:1: error[file-unreadable]: cannot list .upsun/: Permission denied" in said


def test_random_faults_of_a_sample_as_real_processes(seed: Callable[[bytes], Path]) -> None:
    """A few damaged seeds (fixed random choices) as real processes: 0 or 3, never a traceback;
    `up` is run on the invalid ones only (a valid one would start the project)."""
    generator = random.Random(7)
    data = SEED.encode()
    for number in range(4):
        damaged = bytearray(data)
        for _ in range(3):
            damaged[generator.randrange(len(damaged))] = generator.randrange(256)
        root = seed(bytes(damaged))
        result = run_process(root, "validate")
        assert "Traceback" not in result.stderr
        assert result.returncode in (EXIT_OK, EXIT_INVALID_CONFIG), result.stderr
        if result.returncode == EXIT_INVALID_CONFIG:
            check_processes(root, f"damaged seed {number}")


def test_thirty_thousand_errors_in_one_file(seed: Callable[[bytes], Path], capsys: pytest.CaptureFixture[str]) -> None:
    """A file with 30000 unknown keys: every error printed, in seconds (each diagnostic split the
    whole file into lines again: 40000 of them in a 700 KB file took 100 s)."""
    keys = "".join(f"    bogus{number}: 1\n" for number in range(30_000))
    root = seed(SEED.replace("    type: python:3.12\n", "    type: python:3.12\n" + keys, 1).encode())
    started = time.monotonic()
    status, err = run_main(root, "validate", capsys)
    took = time.monotonic() - started
    assert_refused(status, err, "30000 unknown keys")
    assert len(ERROR_LINE.findall(err)) == 30_000
    assert took < 15, f"sunup validate took {took:.1f} s"


def test_an_include_repeated_a_thousand_times(
    seed: Callable[[bytes], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A 1 MiB file included 1000 times (1 GB of values): refused once the reads add up to
    MAX_TOTAL_SIZE, without the memory to hold them (each include read the file again)."""
    variables = "".join(f"      V{number}: !include {{type: string, path: big.txt}}\n" for number in range(1000))
    root = seed(
        SEED.replace(
            "    relationships:\n",
            "    variables:\n      env:\n" + variables.replace("      V", "        V") + "    relationships:\n",
            1,
        ).encode()
    )
    (root / ".upsun" / "big.txt").write_text("x" * (1024 * 1024), encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    said = check_all(root, capsys, "an include repeated 1000 times")
    assert f"over {MAX_TOTAL_SIZE // 1024 // 1024} MiB in all" in said
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    assert grown < 4 * MAX_TOTAL_SIZE, f"the test process grew by {grown // 1024 // 1024} MiB"


def test_a_deleted_current_folder(tmp_path: Path) -> None:
    """Run from a folder deleted under it: no project (exit 4) said plainly (it was an
    OSError, and before the CLI caught those, a traceback)."""
    script = 'mkdir gone && cd gone && rmdir ../gone && exec "$0" -m sunup validate'
    result = subprocess.run(
        ["sh", "-c", script, sys.executable],
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert_refused(result.returncode, result.stderr, "a deleted folder", expected=EXIT_NO_PROJECT)
    assert "the current folder no longer exists" in result.stderr


def test_control_characters_never_reach_the_terminal(
    seed: Callable[[bytes], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A key spelt with escape sequences (`"\\e]0;...\\a"` retitles a terminal) and a raw ESC in
    the file: the diagnostics show U+FFFD in their place, never the control characters."""
    key = '  "\\e]0;pwned\\a\\e[2J\\x9b31m":\n    type: python:3.12\n'
    root = seed(SEED.replace("applications:\n", "applications:\n" + key, 1).encode())
    (root / ".upsun" / "other.yaml").write_bytes(b'routes: {"\x1b[31m\x07": {}}\n')
    said = check_all(root, capsys, "escape sequences")
    assert "error[bad-name]" in said and "error[yaml-syntax]" in said and "\ufffd" in said, said
    assert not set(said) & {chr(code) for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))} - {"\n"}, repr(said)
