"""PHP source is never returned, and no script outside a `scripts: true` root runs: a list of
paths (traversal, encodings, NUL, case, trailing dots, symbolic links out of the root) sent as
raw bytes through the real router to nginx and PHP-FPM (spec §11, §12)."""

from __future__ import annotations

import pytest

from tests.php.conftest import NEEDS_FPM
from tests.php.rig import PhpProject

pytestmark = [pytest.mark.slow, NEEDS_FPM]

#: Every one of these either is refused, or reaches the front controller (index.php) or a
#: script of the public root: never a file's source, never secret.php or an upload.
TRICKS = [
    "/secret.php",
    "/../secret.php",
    "/%2e%2e/secret.php",
    "/%2E%2E/secret.php",
    "/..%2fsecret.php",
    "/%2e%2e%2fsecret.php",
    "/.%2e/secret.php",
    "/public/../secret.php",
    "/index.php/../../secret.php",
    "/info.php/../../secret.php",
    "/x.php/../secret.php",
    "/style.css/../../secret.php",
    "/link-out.php",
    "/link-dir/secret.php",
    "/link-dir/public/index.php",
    "/uploads/evil.php",
    "/uploads/evil.php/",
    "/uploads/evil.php/x",
    "/uploads/evil.php%00.jpg",
    "/uploads/evil.php%00",
    "/uploads/evil.php.",
    "/uploads/evil.php%20",
    "/uploads/evil.php::$DATA",
    "/uploads/evil.ph%70",
    "/uploads/evil%2ephp",
    "/uploads/EVIL.PHP",
    "/uploads/evil.PhP",
    "/uploads//evil.php",
    "/uploads/./evil.php",
    "/uploads/notes.txt/../evil.php",
    "/uploads/notes.txt/evil.php",
    "/uploads%2fevil.php",
    "/uploads/%2e/evil.php",
    "//uploads/evil.php",
    "/UPPER.PHP",
    "/upper.php",
    "/index.php%00.jpg",
    "/info.php%00.css",
    "/info.php.",
    "/info.php~",
    "/index%2ephp",
    "/%69ndex.php",
    "/index.php%2f",
    "/index.php/",
    "/public/index.php",
    "/style.css/x.php",
    "/style.css%00.php",
]


def test_no_trick_returns_php_source_or_runs_a_hidden_script(php_project: PhpProject) -> None:
    seen = {}
    for path in TRICKS:
        status, body = php_project.raw(path)
        seen[path] = status
        assert b"<?php" not in body and b"source" not in body, f"{path} gave {status}: {body[:200]!r}"
        for ran in (b"SECRET RAN", b"UPLOADED RAN", b"UPPER RAN"):
            assert ran not in body, f"{path} ran a script it must not: {body[:200]!r}"
        assert status < 500 or status == 503, f"{path} gave {status}: {body[:200]!r}"
    # The upload location (scripts: false, no passthru): its .php files are not there at all.
    assert seen["/uploads/evil.php"] == 404
    # A non-.php file of that location is served.
    assert php_project.raw("/uploads/notes.txt") == (200, b"just text\n")


def test_raw_nul_and_backslash_in_the_request_line(php_project: PhpProject) -> None:
    for path in (b"/uploads/evil.php\x00.jpg", b"/uploads\\evil.php", b"/..\\secret.php", b"/uploads/evil.php\t"):
        status, body = php_project.raw(path)
        assert b"<?php" not in body and b"RAN" not in body, f"{path!r} gave {status}: {body[:200]!r}"
