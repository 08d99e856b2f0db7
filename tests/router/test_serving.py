"""The router end to end: the real nginx started through `Router`, real apps, real HTTP(S).

One project (written below) has two apps and routes of every kind; its site is served by one
nginx for the whole module (under 2 s in all, so not marked slow), the apps being `echo_app.py` processes that answer with what they
received. HTTPS is checked against the CA the certificate was made from.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sunup.config import read_config
from sunup.plan.model import ProjectPlan
from sunup.plan.resolve import resolve_project
from sunup.plan.routes import local_routes
from tests.conftest import project_maker
from tests.plan.golden import FACTS
from tests.router.rig import Answer, EchoApp, Rig, fetch, free_address, make_site

CONFIG = r"""
applications:
  app:
    type: "python:3.11"
    web:
      commands:
        start: "python app.py"
      locations:
        "/":
          root: "public"
          passthru: true
          index: ["index.html"]
          expires: 1h
          headers:
            X-Frame-Options: SAMEORIGIN
          rules:
            '\.txt$':
              expires: 30s
              headers:
                X-Rule: txt
            '^/private/':
              allow: false
              passthru: false
            '\.secret$':
              allow: false
        "/static":
          root: "static"
          passthru: false
          expires: -1
        "/denied":
          root: "static"
          allow: false
          passthru: false
        "/upload":
          passthru: true
          request_buffering:
            max_request_size: 1k
        "/script":
          root: "static"
          passthru: "/index.html"
        "/noindex":
          root: "public"
          passthru: true
    mounts:
      "public/uploads":
        source: storage
        source_path: uploads
  api:
    type: "python:3.11"
    source:
      root: "api"
    web:
      commands:
        start: "python api.py"
routes:
  "https://{default}/":
    type: upstream
    upstream: "app:http"
    cache:
      enabled: false
  "https://{default}/api/":
    type: upstream
    upstream: "api:http"
    cache:
      enabled: false
  "https://{default}/api/v2/":
    type: upstream
    upstream: "app:http"
    cache:
      enabled: false
  "https://api.{default}/":
    type: upstream
    upstream: "api:http"
    cache:
      enabled: false
  "https://www.{default}/":
    type: redirect
    to: "https://{default}/"
    code: 302
  "https://cached.{default}/":
    type: upstream
    upstream: "app:http"
    cache:
      enabled: true
      cookies: ["session"]
      headers: ["Accept"]
  "https://ssi.{default}/":
    type: upstream
    upstream: "app:http"
    ssi:
      enabled: true
    cache:
      enabled: false
  "https://hsts.{default}/":
    type: upstream
    upstream: "app:http"
    cache:
      enabled: false
    tls:
      strict_transport_security:
        enabled: true
        include_subdomains: true
        preload: true
  "https://redir.{default}/":
    type: upstream
    upstream: "app:http"
    cache:
      enabled: false
    redirects:
      expires: 1h
      paths:
        "/old":
          to: "/new"
        "/exact":
          to: "/target"
          prefix: false
        "/nosuffix":
          to: "/landing"
          append_suffix: false
          code: 302
        '^/blog/(\d+)$':
          to: 'https://{default}/posts/\1'
          regexp: true
          code: 308
          expires: 10m
        '^/other/(.*)$':
          to: '/moved/\1'
          regexp: true
  "https://redir.{default}/other/":
    type: upstream
    upstream: "api:http"
    cache:
      enabled: false
  "http://plain.{default}/":
    type: upstream
    upstream: "app:http"
    cache:
      enabled: false
"""


def resolve(project: Path) -> ProjectPlan:
    """The project's plan. The configuration checks refuse `code` on a whole-route redirect,
    which spec §10 and the plan take (reported): that error only is let through."""
    loaded = read_config(project)
    errors = [
        f"{d.mark}: {d.code}: {d.message}"
        for d in loaded.diagnostics.errors
        if not (d.code == "unknown-key" and "'code'" in d.message)
    ]
    assert not errors, "\n".join(errors)
    return resolve_project(loaded, FACTS)


class Served:
    """The module's running router, its apps, its folders and its CA."""

    def __init__(self, rig: Rig, project: Path, uploads: Path, ca: Path, apps: dict[str, EchoApp]) -> None:
        self.rig, self.project, self.uploads, self.ca, self.apps = rig, project, uploads, ca, apps

    def get(self, host: str, path: str, *, scheme: str = "https", **options: object) -> Answer:
        return fetch(self.rig.url(scheme, host, path), ca=self.ca, **options)  # type: ignore[arg-type]


def write_files(project: Path, uploads: Path) -> None:
    public = project / "public"
    (public / "docs").mkdir(parents=True)
    (public / "private").mkdir()
    (public / "assets").mkdir()
    (public / "assets" / "app.js").write_text("console.log(1)")
    (public / "index.html").write_text("<h1>home page</h1>")
    (public / "docs" / "index.html").write_text("<h1>docs index</h1>")
    (public / "style.css").write_text("body { color: red }")
    (public / "notes.txt").write_text("plain notes")
    (public / "private" / "data.css").write_text("private file")
    (public / "key.secret").write_text("a secret in the root")
    (public / "uploads").mkdir()  # the build's empty folder: the mount's files are elsewhere
    (project / "static").mkdir()
    (project / "static" / "logo.svg").write_text("<svg>logo</svg>")
    (project / "static" / "index.html").write_text("<h1>static index</h1>")
    uploads.mkdir(parents=True)
    (uploads / "photo.png").write_bytes(b"\x89PNG from the mount")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("serving")
    project = project_maker(base)({".upsun/config.yaml": CONFIG, "app.py": "", "api/api.py": ""})
    uploads = base / "volumes" / "uploads"
    write_files(project, uploads)
    plan = resolve(project)
    apps = {name: EchoApp(name) for name in ("app", "api")}
    try:
        site = make_site(
            plan,
            base / "state",
            free_address(),
            roots={"app": project, "api": project / "api"},
            upstreams={name: (app.address,) for name, app in apps.items()},
            mounts={"app": {"public/uploads": uploads}},
            ca=base / "ca",
        )
        with Rig(site, base) as rig:
            yield Served(rig, project, uploads, base / "ca" / "ca.pem", apps)
    finally:
        for app in apps.values():
            app.stop()


# -- web.locations ----------------------------------------------------------------------------


def test_static_file_is_served_without_the_app(served: Served) -> None:
    """A file under a location's root is served by nginx itself: the app never sees it."""
    before = served.get("localhost", "/api/count").json()["count"]
    answer = served.get("localhost", "/style.css")
    assert answer.status == 200 and answer.body == b"body { color: red }"
    assert answer.header("Content-Type") == "text/css"
    assert served.get("localhost", "/api/count").json()["count"] == before + 1
    assert served.get("localhost", "/static/logo.svg").body == b"<svg>logo</svg>"


def test_passthru_sends_what_no_file_matches_to_the_app(served: Served) -> None:
    """passthru: true sends a path with no file to the app, path and query unchanged."""
    answer = served.get("localhost", "/no/such/file?x=1&y=%20")
    assert answer.status == 200
    assert answer.json()["app"] == "app" and answer.json()["path"] == "/no/such/file?x=1&y=%20"


def test_passthru_script_sends_to_the_app(served: Served) -> None:
    """passthru: "/index.html" sends a path with no file to the app; a file is served."""
    assert served.get("localhost", "/script/logo.svg").body == b"<svg>logo</svg>"
    answer = served.get("localhost", "/script/missing")
    assert answer.status == 200 and answer.json()["app"] == "app"


def test_no_passthru_is_404(served: Served) -> None:
    """passthru: false answers 404 for a path with no file, the app never asked."""
    assert served.get("localhost", "/static/missing.css").status == 404


def test_index_files(served: Served) -> None:
    """A folder is served by its index file; a location without index does not serve one."""
    assert served.get("localhost", "/").body == b"<h1>home page</h1>"
    assert served.get("localhost", "/docs/").body == b"<h1>docs index</h1>"
    assert served.get("localhost", "/static/").status in (403, 404)


def test_a_folder_without_index_files_goes_to_the_app(served: Served) -> None:
    """With passthru and no index files, a folder's URL (the location's own, or a sub-folder's)
    is the app's to answer, not a 403; its files are still served."""
    for path in ("/noindex/", "/noindex/docs/", "/noindex/docs"):
        answer = served.get("localhost", path)
        assert answer.status == 200 and answer.json()["path"] == path, (path, answer.status)
    assert served.get("localhost", "/noindex/style.css").body == b"body { color: red }"


def test_a_folder_without_its_index_file_goes_to_the_app(served: Served) -> None:
    """With passthru and index files, a folder that has none of them is the app's to answer."""
    answer = served.get("localhost", "/assets/")
    assert answer.status == 200 and answer.json()["path"] == "/assets/"


def test_expires_sets_cache_control_and_expires(served: Served) -> None:
    """expires: 1h gives Cache-Control max-age=3600 and an Expires an hour ahead; -1 gives neither."""
    answer = served.get("localhost", "/style.css")
    assert answer.header("Cache-Control") == "max-age=3600"
    expires = email.utils.parsedate_to_datetime(answer.header("Expires") or "")
    assert abs(expires.timestamp() - time.time() - 3600) < 120
    bare = served.get("localhost", "/static/logo.svg")
    assert bare.header("Cache-Control") is None and bare.header("Expires") is None


def test_headers_on_static_files(served: Served) -> None:
    """A location's headers are added to its static files, and not to the app's answers."""
    assert served.get("localhost", "/style.css").header("X-Frame-Options") == "SAMEORIGIN"
    assert served.get("localhost", "/no/file").header("X-Frame-Options") is None


def test_rules_override_the_location(served: Served) -> None:
    """A matching rule's expires and headers replace the location's, the location's headers kept."""
    answer = served.get("localhost", "/notes.txt")
    assert answer.body == b"plain notes"
    assert answer.header("Cache-Control") == "max-age=30"
    assert answer.header("X-Rule") == "txt" and answer.header("X-Frame-Options") == "SAMEORIGIN"


def test_denying_rule_and_allow_false(served: Served) -> None:
    """A rule with allow: false, and a location with allow: false, serve no file."""
    private = served.get("localhost", "/private/data.css")
    assert private.status == 404 and b"private file" not in private.body
    secret = served.get("localhost", "/key.secret")
    assert b"a secret in the root" not in secret.body
    denied = served.get("localhost", "/denied/logo.svg")
    assert denied.status == 404 and b"logo" not in denied.body


def test_max_request_size(served: Served) -> None:
    """A body past request_buffering.max_request_size is refused with 413; a smaller one passes."""
    assert served.get("localhost", "/upload/x", method="POST", body=b"x" * 2048).status == 413
    small = served.get("localhost", "/upload/x", method="POST", body=b"y" * 512)
    assert small.status == 200 and small.json()["body"] == "y" * 512


def test_a_location_s_bare_path_takes_its_own_body_size(served: Served) -> None:
    """The bare path of a location (/script, /upload) applies that location's body limit, not
    nginx's default of 1 MB."""
    big = b"z" * (2 * 1024 * 1024)
    answer = served.get("localhost", "/script", method="POST", body=big)
    assert answer.status == 200 and len(answer.json()["body"]) == len(big)
    assert served.get("localhost", "/upload", method="POST", body=b"x" * 2048).status == 413


def test_websocket_upgrade_passes_through(served: Served) -> None:
    """An Upgrade request through the router reaches the app, and the upgraded connection carries
    bytes both ways (WebSockets)."""
    import socket

    from tests.router.rig import tls_context

    port = served.rig.site.address.https_port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        context = tls_context(served.ca)
        context.set_alpn_protocols(["http/1.1"])
        with context.wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(
                b"GET /ws HTTP/1.1\r\nHost: localhost:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" % port
            )
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(4096)
                assert chunk, f"the connection closed after {head!r}"
                head += chunk
            assert head.startswith(b"HTTP/1.1 101"), head
            sock.sendall(b"ping through the router")
            echoed = b""
            while len(echoed) < len(b"ping through the router"):
                chunk = sock.recv(4096)
                assert chunk, f"the connection closed after {echoed!r}"
                echoed += chunk
            assert echoed == b"ping through the router"


def test_server_sent_events_are_not_buffered(served: Served) -> None:
    """An answer that says X-Accel-Buffering: no (server-sent events) reaches the client as the
    app writes it, through both layers, and the header stays between the proxies."""
    import http.client

    from tests.router.rig import tls_context

    port = served.rig.site.address.https_port
    connection = http.client.HTTPSConnection("localhost", port, timeout=20, context=tls_context(served.ca))
    try:
        started = time.monotonic()
        connection.request("GET", "/events")
        response = connection.getresponse()
        first = response.readline()
        waited = time.monotonic() - started
        assert first == b"data: first\n"
        assert waited < 5, f"the first event took {waited:.1f} s: a proxy buffered the stream"
        assert response.getheader("X-Accel-Buffering") is None
    finally:
        connection.close()


def test_mount_inside_the_root_is_served_from_the_mount(served: Served) -> None:
    """A file of a mount inside a location's root comes from the mount's folder."""
    answer = served.get("localhost", "/uploads/photo.png")
    assert answer.status == 200 and answer.body == b"\x89PNG from the mount"
    assert answer.header("Cache-Control") == "max-age=3600"


# -- routes -----------------------------------------------------------------------------------


def test_upstream_keeps_the_path_and_the_most_specific_route_wins(served: Served) -> None:
    """A path route sends its requests, path unchanged, to its app; a longer route wins."""
    api = served.get("localhost", "/api/users?id=3").json()
    assert (api["app"], api["path"]) == ("api", "/api/users?id=3")
    v2 = served.get("localhost", "/api/v2/users").json()
    assert (v2["app"], v2["path"]) == ("app", "/api/v2/users")
    assert served.get("localhost", "/elsewhere").json()["app"] == "app"


def test_a_path_route_takes_its_bare_path(served: Served) -> None:
    """/api (no slash) belongs to the route https://{default}/api/, not to the route of /."""
    api = served.get("localhost", "/api?x=1").json()
    assert (api["app"], api["path"]) == ("api", "/api?x=1")
    assert served.get("localhost", "/api/v2").json()["app"] == "app"
    assert served.get("localhost", "/apix").json()["app"] == "app"


def test_subdomain_route(served: Served) -> None:
    """https://api.{default}/ answers at api.localhost with its own app."""
    answer = served.get("api.localhost", "/ping").json()
    assert (answer["app"], answer["path"]) == ("api", "/ping")


def test_whole_route_redirect_with_its_code(served: Served) -> None:
    """A redirect route answers its code with the target, the path and query kept."""
    answer = served.get("www.localhost", "/some/page?q=1")
    assert answer.status == 302
    assert answer.header("Location") == served.rig.url("https", "localhost", "/some/page?q=1")


def test_plain_http_goes_to_the_https_route(served: Served) -> None:
    """Plain HTTP to an https-only route is redirected (301) to it, the path kept."""
    answer = served.get("localhost", "/x/y?z=1", scheme="http")
    assert answer.status == 301
    assert answer.header("Location") == served.rig.url("https", "localhost", "/x/y?z=1")


def test_http_route_is_served_on_http(served: Served) -> None:
    """An http:// route is served on the HTTP port, not redirected."""
    answer = served.get("plain.localhost", "/hello", scheme="http")
    assert answer.status == 200 and answer.json()["path"] == "/hello"


def test_partial_redirects(served: Served) -> None:
    """redirects.paths: prefix with the suffix appended, exact paths, no suffix, a regex with a group."""
    old = served.get("redir.localhost", "/old/a/b?k=v")
    assert (old.status, old.header("Location")) == (301, "/new/a/b?k=v")
    assert old.header("Cache-Control") == "max-age=3600"
    assert served.get("redir.localhost", "/old").header("Location") == "/new"
    exact = served.get("redir.localhost", "/exact")
    assert (exact.status, exact.header("Location")) == (301, "/target")
    assert served.get("redir.localhost", "/exact/deeper").json()["path"] == "/exact/deeper"
    nosuffix = served.get("redir.localhost", "/nosuffix/more")
    assert (nosuffix.status, nosuffix.header("Location")) == (302, "/landing")
    blog = served.get("redir.localhost", "/blog/42")
    assert blog.status == 308
    assert blog.header("Location") == served.rig.url("https", "localhost", "/posts/42")
    assert blog.header("Cache-Control") == "max-age=600"
    assert served.get("redir.localhost", "/blog/x").json()["path"] == "/blog/x"


def test_partial_redirects_belong_to_their_route(served: Served) -> None:
    """A route's partial redirects apply to its own requests, not to a more specific route's."""
    other = served.get("redir.localhost", "/other/page").json()
    assert (other["app"], other["path"]) == ("api", "/other/page")


def test_cache_keyed_by_cookies_and_headers(served: Served) -> None:
    """A cacheable answer is cached per route, keyed by the route's cookies and headers only."""

    def count(path: str, **headers: str) -> tuple[int, str | None]:
        answer = served.get("cached.localhost", path, headers=headers)
        return answer.json()["count"], answer.header("X-Platform-Cache")

    path = "/page?cc=max-age%3D60"
    first, state = count(path, Cookie="session=a")
    assert state == "MISS"
    assert count(path, Cookie="session=a") == (first, "HIT")
    assert count(path, Cookie="session=a; other=1") == (first, "HIT")
    assert count(path, Cookie="session=b")[0] != first
    assert count(path, Cookie="session=a", Accept="text/plain")[0] != first
    uncacheable, _ = count("/page?nocc")
    assert count("/page?nocc")[0] != uncacheable


def test_cache_disabled(served: Served) -> None:
    """cache.enabled: false: every request reaches the app, even one it says may be cached."""
    first = served.get("localhost", "/c?cc=max-age%3D60").json()["count"]
    second = served.get("localhost", "/c?cc=max-age%3D60")
    assert second.json()["count"] != first and second.header("X-Platform-Cache") is None


def test_ssi(served: Served) -> None:
    """ssi.enabled runs the app's server-side includes; other routes pass them as written."""
    on = served.get("ssi.localhost", "/ssi").body
    assert b"ssi-ran" in on and b"<!--#" not in on
    assert b"<!--# echo" in served.get("localhost", "/ssi").body


def test_hsts(served: Served) -> None:
    """tls.strict_transport_security adds the header with its flags; other routes have none."""
    answer = served.get("hsts.localhost", "/")
    assert answer.header("Strict-Transport-Security") == "max-age=31536000; includeSubDomains; preload"
    assert served.get("localhost", "/").header("Strict-Transport-Security") is None


def test_forwarded_headers_reach_the_app(served: Served) -> None:
    """The app gets X-Forwarded-For, -Proto, -Host and X-Client-IP, whatever the client claimed."""
    headers = served.get("localhost", "/h", headers={"X-Forwarded-For": "6.6.6.6", "X-Client-IP": "6.6.6.6"}).json()[
        "headers"
    ]
    port = served.rig.site.address.https_port
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-client-ip"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-host"] == f"localhost:{port}"
    assert headers["host"] == f"localhost:{port}"
    plain = served.get("plain.localhost", "/h", scheme="http").json()["headers"]
    assert plain["x-forwarded-proto"] == "http"


def test_unknown_host_names_the_routes(served: Served) -> None:
    """A host no route has gets a 404 that lists the project's routes, on HTTP and HTTPS."""
    for scheme in ("http", "https"):
        answer = fetch(served.rig.url(scheme, "localhost", "/"), ca=served.ca, headers={"Host": "nowhere.example"})
        assert answer.status == 404
        for route in served.rig.site.routes:
            assert route.url.encode() in answer.body


def test_https_certificate_is_trusted_with_the_ca(served: Served) -> None:
    """Every https route's host presents a certificate the CA file verifies."""
    import ssl

    for route in served.rig.site.routes:
        if route.scheme == "https":
            assert served.get(route.host, route.path).status in (200, 301, 302, 308)
    with pytest.raises(ssl.SSLError):
        fetch(served.rig.url("https", "localhost", "/"), ca=Path(ssl.get_default_verify_paths().cafile or "/dev/null"))


def test_platform_routes_match_what_is_served(served: Served) -> None:
    """Each URL of the local routes answers as its type says (upstream 200, redirect 3xx)."""
    plan_routes = local_routes(tuple(r.route for r in served.rig.site.routes), served.rig.site.address)
    for local in plan_routes:
        answer = fetch(local.url, ca=served.ca)
        if local.route.type == "upstream":
            assert answer.status == 200, local.url
        else:
            assert 300 <= answer.status < 400, local.url
