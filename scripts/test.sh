#!/usr/bin/env bash
# The whole test suite: lint, types, then the tests. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "--> ruff"
.venv/bin/ruff check sunup tests bench
.venv/bin/ruff format --check sunup tests bench
echo "--> mypy (strict)"
.venv/bin/mypy sunup
echo "--> pytest"
# A failed test is run once more (pytest-rerunfailures); every rerun is listed in the summary.
.venv/bin/python -m pytest --reruns 1 --reruns-delay 1 "$@"
