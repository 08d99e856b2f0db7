"""sunup's YAML emitter: whatever JSON data it writes, a YAML loader reads back the same."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sunup.cli.yamlemit import dump

#: Strings YAML readers are known to take for something else, or that break naive emitters.
TRICKY = [
    "",
    " lead",
    "x\n",
    "x\n\n",
    "\nx",
    "a: b",
    "#c",
    "- d",
    "true",
    "On",
    "y",
    "N",
    "1e3",
    "0x1F",
    "12:30",
    "é\u2028",
    "tab\tx\ny",
    "😀",
    "😀\nline",
    "multi\nline\n  indented\n",
    "trail \nspace",
    "~",
    "null",
    "-",
    "--app",
    ".5",
    "._",
    "...",
    "---",
    "<<",
    "=",
    "!tag",
    "&a",
    "*b",
    "%x",
    "@x",
    "'q'",
    '"dq"',
    "[x]",
    "{y}",
    "a,b",
    "?x",
    "|x",
    ">x",
    "\x85x",
    "\ufeffbom",
    "\x7f",
    "\ud800",
    "x\r\ny",
    "500m",
    "8Gi",
    "0755",
    "2026-01-05",
    "\\",
    "a #b",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.sampled_from(TRICKY),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text() | st.sampled_from(TRICKY), inner, max_size=4),
    max_leaves=25,
)


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_strings_round_trip(text: str) -> None:
    """Each tricky string, as a value, a key and a list item, loads back as itself."""
    data: dict[str, Any] = {"value": text, text: 1, "items": [text, {"k": text}]}
    assert yaml.safe_load(dump(data)) == data


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text() | st.sampled_from(TRICKY), json_values, max_size=6))
def test_any_json_mapping_round_trips(data: dict[str, Any]) -> None:
    """Arbitrary nested JSON data (mappings, lists, strings of any character) loads back equal."""
    assert yaml.safe_load(dump(data)) == data
