"""Making a start command's last program the supervised process: `exec` where it is safe.

`sh -c "cd web && npm start"` keeps the shell as the instance's main process and npm as its
child; `cd web && exec npm start` makes npm the main process, so PR_SET_PDEATHSIG, exit statuses
and signals reach the app itself. Replacing the last command of a list (`;`, `&&`, `||`, new
lines) by `exec` of it never changes what the script does: the shell would exit with that
command's status right after it anyway.

The scanner below understands quotes, escapes, `$(...)`, backquotes and comments. Anything
else at the top level — pipes, `&`, subshells, braces, here-documents — leaves the command as
written, as does a last command that is a shell keyword, a builtin or starts with an assignment.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z0-9_./+-]+")
_NOT_EXECUTABLE = frozenset(
    {
        *("if", "then", "else", "elif", "fi", "while", "until", "for", "do", "done", "case", "esac"),
        *("select", "function", "time", "!", "[", "[[", ".", ":", "cd", "export", "set", "source"),
        *("eval", "ulimit", "umask", "trap", "readonly", "local", "shift", "unset", "alias", "true"),
        *("false", "exit", "return", "wait", "read", "test", "exec", "command", "builtin", "{", "}"),
    }
)


def _skip_quoted(text: str, i: int) -> int | None:
    """The index after the quoted or substituted part starting at `i` (None when unterminated)."""
    opener = text[i]
    if opener == "'":
        end = text.find("'", i + 1)
        return None if end < 0 else end + 1
    if opener in '"`':
        j = i + 1
        while j < len(text):
            if text[j] == "\\":
                j += 2
                continue
            if text[j] == opener:
                return j + 1
            if opener == '"' and text.startswith("$(", j):
                after = _skip_quoted(text, j)
                if after is None:
                    return None
                j = after
                continue
            j += 1
        return None
    # $( ... ) with nesting and quotes inside.
    depth, j = 0, i + 1
    while j < len(text):
        char = text[j]
        if char == "\\":
            j += 2
            continue
        if char in "'\"`":
            after = _skip_quoted(text, j)
            if after is None:
                return None
            j = after
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return None


def last_command_start(text: str) -> int | None:
    """Where the last command of a plain command list begins, None if `text` is anything else."""
    start, i, at_word_start = 0, 0, True
    while i < len(text):
        char = text[i]
        if char == "\\":
            i, at_word_start = i + 2, False
            continue
        if char in "'\"`" or text.startswith("$(", i):
            after = _skip_quoted(text, i)
            if after is None:
                return None
            i, at_word_start = after, False
            continue
        if char == "#" and at_word_start:
            newline = text.find("\n", i)
            if newline < 0:
                return start
            i = newline
            continue
        if text.startswith(("&&", "||"), i):
            i = start = i + 2
            at_word_start = True
            continue
        if char in ";\n":
            i = start = i + 1
            at_word_start = True
            continue
        if char == "&" and i > 0 and text[i - 1] in "<>":
            i, at_word_start = i + 1, False  # a redirection: 2>&1, <&3
            continue
        if char in "|&(){}" or text.startswith("<<", i):
            return None
        at_word_start = char in " \t"
        i += 1
    return start


def execs(command: str) -> str:
    """`command` with `exec` before its last program when that is safe (see the module doc)."""
    text = command.strip().rstrip(";").rstrip()
    start = last_command_start(text)
    if start is None:
        return command.strip()
    last = text[start:].lstrip()
    words = last.split(None, 1)
    if not words:
        return command.strip()
    first = words[0]
    if first == "exec" or not _WORD.fullmatch(first) or first in _NOT_EXECUTABLE:
        return command.strip()
    head = text[:start]
    offset = len(text[start:]) - len(last)
    return f"{head}{text[start : start + offset]}exec {last}"


#: Words a shell passes on as they are: no quote, expansion, glob, tilde or operator in them.
_PLAIN = re.compile(r"[A-Za-z0-9_./:@%+,=-]+(?:[ \t]+[A-Za-z0-9_./:@%+,=-]+)*")


def plain_words(command: str) -> list[str] | None:
    """The argv of `command` when a shell would do nothing but run it (`sleep 60`, `php
    worker.php --queue=mail`): it can then be exec'd without one. None for anything else: an
    assignment, a builtin or keyword, any character the shell would interpret."""
    text = command.strip()
    if not _PLAIN.fullmatch(text):
        return None
    words = text.split()
    if "=" in words[0] or words[0] in _NOT_EXECUTABLE:
        return None
    return words
