"""A fake Kubernetes API server: a real HTTP server on loopback that records and answers.

Enough of the API for the choreography, spoken over HTTP so that the real client is what talks
to it: objects are read, listed (label selectors), created (409 when they exist), applied
(server-side apply: created or replaced), merge-patched and deleted, at the REST paths of
`sunup.kubedeploy.cluster.KINDS`; errors are `Status` objects. It also plays the controllers,
one step per read of an object:

- a Deployment or StatefulSet is rolled out `rollout_reads` reads after its spec changed (never
  when its name is in `stuck`);
- a Job ends `job_reads` reads after it was created: failed when its name starts with one of
  `failing_jobs`, else succeeded;
- a CronJob seeded with `status.active` (`seed`) is idle again after `cron_reads` reads;
- writes of the objects named in `refuse` get the error given there.

Every request is kept in `requests` (method, path, query, content type, body) in arrival order.

    with FakeApiServer() as server:
        cluster = OfficialCluster(server.api_client())
"""

from __future__ import annotations

import copy
import json
import threading
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sunup.kubedeploy.cluster import KINDS

_PLURALS = {plural: (kind, api_version, namespaced) for kind, (api_version, plural, namespaced) in KINDS.items()}


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any

    @property
    def kind(self) -> str:
        parsed = _parse(self.path)
        return parsed[0] if parsed is not None else "?"

    @property
    def name(self) -> str:
        """The object's name: from the path, or from the body of a create."""
        parsed = _parse(self.path)
        if parsed is not None and parsed[3]:
            return parsed[3]
        if self.method == "POST" and isinstance(self.body, dict):
            return str((self.body.get("metadata") or {}).get("name") or "")
        return ""

    def describe(self) -> str:
        """``PATCH CronJob app-cron-tick`` (``LIST CronJob`` for a collection read)."""
        verb = "LIST" if self.method == "GET" and not self.name else self.method
        return f"{verb} {self.kind} {self.name}".rstrip()


def _parse(path: str) -> tuple[str, str, str, str | None] | None:
    """(kind, api version, namespace, name or None) of a REST path; None when it is not one."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        rest, api_version = parts[2:], "v1"
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        rest, api_version = parts[3:], f"{parts[1]}/{parts[2]}"
    else:
        return None
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or rest[0] not in _PLURALS:
        return None
    kind, expected, _namespaced = _PLURALS[rest[0]]
    if expected != api_version:
        return None
    return kind, api_version, namespace, rest[1] if len(rest) > 1 else None


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "=" in term:
            key, _, value = term.partition("=")
            if labels.get(key.rstrip("=")) != value.lstrip("="):
                return False
        elif term not in labels:
            return False
    return True


class FakeApiServer:
    def __init__(
        self,
        *,
        rollout_reads: int = 1,
        job_reads: int = 1,
        cron_reads: int = 2,
        failing_jobs: Iterable[str] = (),
        stuck: Iterable[str] = (),
        refuse: dict[str, tuple[int, str]] | None = None,
    ) -> None:
        self.rollout_reads = rollout_reads
        self.job_reads = job_reads
        self.cron_reads = cron_reads
        self.failing_jobs = tuple(failing_jobs)
        self.stuck = set(stuck)
        #: {"Kind name": (HTTP status, message)}: writes of that object are refused so.
        self.refuse = dict(refuse or {})
        self.requests: list[Request] = []
        #: {(kind, namespace, name): object}
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._reads: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()
        self._serial = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-kube-api", daemon=True)

    # -- life ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeApiServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def api_client(self) -> Any:
        """An official client's ApiClient configured to talk to this server."""
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.url
        return client.ApiClient(configuration)

    def seed(self, obj: dict[str, Any]) -> None:
        """Put `obj` in the store as if it existed before (its status as given)."""
        meta = obj["metadata"]
        key = (obj["kind"], meta.get("namespace", ""), meta["name"])
        with self._lock:
            self.objects[key] = self._stamped(copy.deepcopy(obj))

    def calls(self) -> list[str]:
        """Every request as ``METHOD Kind name`` in order."""
        return [r.describe() for r in self.requests]

    # -- the API ------------------------------------------------------------------------------

    def _stamped(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._serial += 1
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", f"uid-{self._serial}")
        meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        meta["resourceVersion"] = str(self._serial)
        meta.setdefault("generation", 1)
        return obj

    def _handle(self, method: str, path: str, query: dict[str, str], body: Any, content_type: str) -> tuple[int, Any]:
        parsed = _parse(path)
        if parsed is None:
            return 404, _status(404, "NotFound", f"the server could not find the requested resource {path}")
        kind, api_version, namespace, name = parsed
        key = (kind, namespace, name or "")
        target = name or str(((body or {}).get("metadata") or {}).get("name") if isinstance(body, dict) else "")
        if method != "GET" and f"{kind} {target}" in self.refuse:
            code, message = self.refuse[f"{kind} {target}"]
            return code, _status(code, "Invalid", message)
        if method == "GET" and name is None:
            selector = query.get("labelSelector", "")
            items = [
                {k: v for k, v in copy.deepcopy(obj).items() if k not in ("kind", "apiVersion")}
                for (k, ns, _n), obj in sorted(self.objects.items())
                if k == kind and ns == namespace and _matches(obj["metadata"].get("labels") or {}, selector)
            ]
            return 200, {"kind": f"{kind}List", "apiVersion": api_version, "metadata": {}, "items": items}
        if method == "POST" and name is None:
            name = str((body.get("metadata") or {}).get("name"))
            key = (kind, namespace, name)
            if key in self.objects:
                return 409, _status(409, "AlreadyExists", f'{_plural(kind)} "{name}" already exists')
            created = self._stamped({**copy.deepcopy(body), "kind": kind, "apiVersion": api_version})
            self.objects[key] = created
            self._reads[key] = 0
            return 201, created
        found = self.objects.get(key)
        if method == "GET":
            if found is None:
                return 404, _status(404, "NotFound", f'{_plural(kind)} "{name}" not found')
            self._observe(key, found)
            return 200, found
        if method == "PATCH":
            if content_type.startswith("application/apply-patch"):
                if found is None:
                    made = self._stamped({**copy.deepcopy(body), "kind": kind, "apiVersion": api_version})
                    self.objects[key] = made
                    self._reads[key] = 0
                    return 201, made
                updated = {**copy.deepcopy(body), "status": found.get("status", {})}
                updated["metadata"] = {**found["metadata"], **(body.get("metadata") or {})}
            elif content_type.startswith("application/merge-patch"):
                if found is None:
                    return 404, _status(404, "NotFound", f'{_plural(kind)} "{name}" not found')
                updated = _merge(found, body)
            else:
                return 415, _status(415, "UnsupportedMediaType", f"the fake does not take {content_type}")
            if updated.get("spec") != found.get("spec"):
                updated["metadata"]["generation"] = int(found["metadata"].get("generation", 1)) + 1
                self._reads[key] = 0
            self.objects[key] = self._stamped(updated)
            return 200, updated
        if method == "DELETE":
            if found is None:
                return 404, _status(404, "NotFound", f'{_plural(kind)} "{name}" not found')
            del self.objects[key]
            return 200, _status(200, "", "deleted", success=True)
        return 405, _status(405, "MethodNotAllowed", f"{method} is not allowed here")

    def _observe(self, key: tuple[str, str, str], obj: dict[str, Any]) -> None:
        """One step of the controllers, at each read of an object."""
        reads = self._reads.get(key, 0) + 1
        self._reads[key] = reads
        kind, _namespace, name = key
        generation = int(obj["metadata"].get("generation", 1))
        if kind in ("Deployment", "StatefulSet"):
            wanted = int((obj.get("spec") or {}).get("replicas", 1))
            if reads >= self.rollout_reads and name not in self.stuck:
                obj["status"] = {
                    "observedGeneration": generation,
                    "replicas": wanted,
                    "updatedReplicas": wanted,
                    "readyReplicas": wanted,
                    "availableReplicas": wanted,
                }
                if kind == "StatefulSet":
                    obj["status"].update(currentRevision=f"r{generation}", updateRevision=f"r{generation}")
            else:
                obj["status"] = {"observedGeneration": generation, "replicas": wanted, "updatedReplicas": 0}
        elif kind == "Job" and not (obj.get("status") or {}).get("conditions"):
            if reads < self.job_reads:
                obj["status"] = {"active": 1}
            elif self.failing_jobs and name.startswith(self.failing_jobs):
                failed = {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}
                failed["message"] = "Job has reached the specified backoff limit"
                obj["status"] = {"failed": 1, "conditions": [failed]}
            else:
                obj["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
        elif kind == "CronJob" and (obj.get("status") or {}).get("active") and reads >= self.cron_reads:
            obj["status"] = {k: v for k, v in obj["status"].items() if k != "active"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                content_type = self.headers.get("Content-Type") or ""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                with server._lock:
                    server.requests.append(Request(self.command, url.path, query, content_type, body))
                    code, answer = server._handle(self.command, url.path, query, body, content_type)
                    data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def _plural(kind: str) -> str:
    return KINDS[kind][1]


def _status(code: int, reason: str, message: str, *, success: bool = False) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if success else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
