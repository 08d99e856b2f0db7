"""The Node.js client `platformsh-config` reads an instance's environment unchanged (spec §5).

Needs node and npm (the package is installed from the npm registry into a temp folder); skipped,
with the reason, where either is missing or the registry cannot be reached.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sunup.config import read_config
from sunup.plan.relationships import Credentials, relationships_environment
from sunup.plan.resolve import HostFacts, resolve_project
from tests.conftest import EXAMPLES

READER = """
const config = require('platformsh-config').config();
const names = JSON.parse(process.env.CHECK_RELATIONSHIPS);
const out = {valid: config.isValidPlatform(), inBuild: config.inBuild(), credentials: {}};
for (const name of names) { out.credentials[name] = config.credentials(name); }
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def node_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed (apt-get install nodejs npm)")
    folder = tmp_path_factory.mktemp("node-client")
    try:
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent", "platformsh-config"],
            cwd=folder,
            capture_output=True,
            timeout=180,
            check=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot install platformsh-config from the npm registry: {exc}")
    return folder


def test_node_client_reads_relationships_of_queue(node_client: Path) -> None:
    """platformsh-config gives the seed's queue worker the credentials sunup computed, at run time."""
    loaded = read_config(EXAMPLES / "workers")
    plan = resolve_project(loaded, HostFacts.for_project(loaded.root))
    queue = plan.apps[0].group("queue")
    assert queue is not None
    access = {
        ("mysql", "mysql"): Credentials("127.0.0.1", 33061, "mysql", "s3cret", "main"),
        ("rabbitmq", "rabbitmq"): Credentials("127.0.0.1", 56721, "rabbitmq", "p4ss", None),
    }
    computed = relationships_environment(queue, plan, access)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        **queue.environment,
        **computed.variables,
        "PLATFORM_APP_DIR": str(node_client),
        "CHECK_RELATIONSHIPS": json.dumps(["mysql", "rabbitmq"]),
    }
    result = subprocess.run(
        ["node", "-e", READER], cwd=node_client, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["valid"] is True and seen["inBuild"] is False
    mysql, rabbitmq = seen["credentials"]["mysql"], seen["credentials"]["rabbitmq"]
    assert (mysql["host"], mysql["port"], mysql["username"], mysql["password"], mysql["path"]) == (
        "127.0.0.1",
        33061,
        "mysql",
        "s3cret",
        "main",
    )
    assert (mysql["scheme"], rabbitmq["scheme"], rabbitmq["port"]) == ("mysql", "amqp", 56721)
