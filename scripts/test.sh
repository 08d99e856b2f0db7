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
# A failed test is run once more (pytest-rerunfailures); every rerun is listed in the summary
# (-rR in pyproject.toml). Four workers (pytest-xdist) on two cores: most tests wait on real
# processes, not the CPU; worksteal hands the last slow tests to idle workers. SUNUP_TEST_WORKERS
# changes the count (0: one process, as before).
.venv/bin/python -m pytest -n "${SUNUP_TEST_WORKERS:-4}" --dist worksteal --reruns 1 --reruns-delay 1 "$@"
