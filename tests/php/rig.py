"""A small PHP project run by the real `sunup up -d`: PHP-FPM behind the router's nginx, a PHP
worker, a deploy hook; requests sent as raw bytes to the router's HTTP port (so that paths go out
exactly as written: `..`, `%2e%2e`, NUL...)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

BOUND = 60.0

CONFIG = """\
applications:
  app:
    type: php:8.3
    variables:
      env:
        GREETING: hello from the config
      php:
        memory_limit: 200M
        max_execution_time: 17
        date:
          timezone: Europe/Paris
    runtime:
      extensions: [redis, pdo_pgsql]
      sizing_hints:
        request_memory: 20
        reserved_memory: 24
    relationships:
      cache: "cache:redis"
    hooks:
      deploy: php -r 'echo "deploy hook memory_limit=", ini_get("memory_limit"), "\\n";'
    web:
      locations:
        /:
          root: public
          passthru: /index.php
          scripts: true
          index: [index.php]
        /tools:
          root: tools
          scripts: true
          passthru: false
        /uploads:
          root: public/uploads
          scripts: false
          allow: true
          passthru: false
    workers:
      queue:
        commands:
          start: php worker.php
services:
  cache:
    type: redis:7.2
routes:
  "http://{default}/":
    type: upstream
    upstream: app:http
"""

FRONT = """\
<?php
header('Content-Type: application/json');
echo json_encode([
    'front' => true,
    'request_uri' => $_SERVER['REQUEST_URI'],
    'script_name' => $_SERVER['SCRIPT_NAME'],
    'script_filename' => $_SERVER['SCRIPT_FILENAME'],
    'document_root' => $_SERVER['DOCUMENT_ROOT'],
    'path_info' => $_SERVER['PATH_INFO'] ?? '',
    'query' => $_SERVER['QUERY_STRING'] ?? '',
    'method' => $_SERVER['REQUEST_METHOD'],
    'body' => file_get_contents('php://input'),
    'remote_addr' => $_SERVER['REMOTE_ADDR'],
    'forwarded_for' => $_SERVER['HTTP_X_FORWARDED_FOR'] ?? null,
    'forwarded_proto' => $_SERVER['HTTP_X_FORWARDED_PROTO'] ?? null,
    'forwarded_host' => $_SERVER['HTTP_X_FORWARDED_HOST'] ?? null,
    'server_port' => $_SERVER['SERVER_PORT'],
    'greeting' => getenv('GREETING'),
    'relationships' => array_keys(json_decode(base64_decode(getenv('PLATFORM_RELATIONSHIPS')), true) ?: []),
    'redis' => $_SERVER['REQUEST_URI'] === '/redis' ? (function () {
        $cache = json_decode(base64_decode(getenv('PLATFORM_RELATIONSHIPS')), true)['cache'][0];
        $redis = new Redis();
        $redis->connect($cache['host'], $cache['port']);
        $redis->set('sunup', 'php');
        return $redis->get('sunup');
    })() : null,
    'routes' => array_keys(json_decode(base64_decode(getenv('PLATFORM_ROUTES')), true) ?: []),
    'memory_limit' => ini_get('memory_limit'),
    'max_execution_time' => ini_get('max_execution_time'),
    'timezone' => ini_get('date.timezone'),
    'sapi' => PHP_SAPI,
    'extensions' => get_loaded_extensions(),
    'pid' => getmypid(),
]);
"""
INFO = """<?php header('Content-Type: application/json'); echo json_encode(['script' => basename(__FILE__), \
'path_info' => $_SERVER['PATH_INFO'] ?? '', 'script_name' => $_SERVER['SCRIPT_NAME']]);\n"""
SLOW = "<?php usleep(1500000); echo 'slow done';\n"
FATAL = "<?php call_to_an_undefined_function_of_sunup();\n"
#: Outside the root: never served, never run.
SECRET = "<?php echo 'SECRET RAN'; // secret source\n"
UPLOADED = "<?php echo 'UPLOADED RAN'; // uploaded source\n"
TOOL = """<?php header('Content-Type: application/json'); echo json_encode(['file' => __FILE__, \
'script_name' => $_SERVER['SCRIPT_NAME'], 'path_info' => $_SERVER['PATH_INFO'] ?? '']);\n"""
WORKER = """\
<?php
echo "worker memory_limit=", ini_get('memory_limit'), " timezone=", ini_get('date.timezone'), "\\n";
while (true) { sleep(60); }
"""


def files() -> dict[str, str]:
    return {
        ".upsun/config.yaml": CONFIG,
        "public/index.php": FRONT,
        "public/info.php": INFO,
        "public/slow.php": SLOW,
        "public/fatal.php": FATAL,
        "public/UPPER.PHP": SECRET.replace("SECRET", "UPPER"),
        "public/style.css": "body { color: black; }\n",
        "public/uploads/evil.php": UPLOADED,
        "public/uploads/notes.txt": "just text\n",
        "secret.php": SECRET,
        "tools/run.php": TOOL,
        "worker.php": WORKER,
    }


class PhpProject:
    """One project under `root` with its state in `state`, driven through the sunup CLI."""

    def __init__(self, root: Path, state: Path) -> None:
        self.root = root
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "NO_COLOR": "1",
            "SUNUP_STATE_DIR": str(state),
            "SUNUP_STOP_GRACE": "15",
        }
        self.state = state
        self._address: tuple[str, int] | None = None

    def sunup(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sunup", "-C", str(self.root), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )

    def address(self) -> tuple[str, int]:
        if self._address is None:
            printed = self.sunup("url", timeout=60)
            assert printed.returncode == 0, printed.stderr
            parts = urlsplit(printed.stdout.strip())
            assert parts.scheme == "http" and parts.hostname and parts.port, printed.stdout
            self._address = (parts.hostname, parts.port)
        return self._address

    def raw(
        self, path: bytes | str, method: str = "GET", body: bytes = b"", headers: Mapping[str, str] = {}
    ) -> tuple[int, bytes]:
        """Send one request with `path` exactly as given; (status, body)."""
        target = path.encode("latin-1") if isinstance(path, str) else path
        host, port = self.address()
        lines = [f"{method} ".encode() + target + b" HTTP/1.1", f"Host: {host}:{port}".encode(), b"Connection: close"]
        lines += [f"{k}: {v}".encode() for k, v in headers.items()]
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}".encode())
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            conn.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
            received = b""
            while chunk := conn.recv(65536):
                received += chunk
        head, _, content = received.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if b"transfer-encoding: chunked" in head.lower():
            content = _unchunk(content)
        return status, content

    def json(
        self, path: str, method: str = "GET", body: bytes = b"", headers: Mapping[str, str] = {}
    ) -> dict[str, object]:
        status, content = self.raw(path, method, body, headers)
        assert status == 200, (path, status, content[:500])
        value: dict[str, object] = json.loads(content)
        return value

    def logs(self, *selection: str) -> str:
        done = self.sunup("logs", *selection, "--lines", "2000", timeout=60)
        return done.stdout + done.stderr

    def ps(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = json.loads(self.sunup("ps", "--json", timeout=60).stdout)
        return rows


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out


def until(check: Callable[[], object], what: str, bound: float = BOUND) -> object:
    deadline = time.monotonic() + bound
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {bound:g} s waiting for {what}")
        time.sleep(0.1)
