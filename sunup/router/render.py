"""The router's nginx configuration, rendered from a `RouterSite` by pure code (spec §10, §11).

One nginx serves both layers of the platform:

- **the router**: a server per (scheme, host) of the routes on the HTTP or HTTPS port; upstream
  routes pass requests, path unchanged, to their app's web server with the forwarded headers the
  platform sets; redirect routes and partial redirects answer themselves; `cache`, `ssi` and
  HSTS as each route says. Unknown hosts get a 404 naming the routes.
- **each app's web server**, on a unix socket of its own: its `web.locations` (static files
  from `root`, `index`, `expires`, `headers`, `rules`, `allow`, `passthru`, the body size
  limit), the rest passed to the app's web instances. When none answers (a deploy, a crash
  loop), the request goes to the supervisor's hold server (`sunup.router.hold`), which waits for
  the app to answer again, then passes it on, or answers 503 naming the instance.

Static files are served with `root` only (never `alias`, whose mapping nested locations and
`try_files` break): a location's root that is not the app root is reached through a symbolic
link in the router's folder (`links`), and nginx refuses any other symbolic link below it
(`disable_symlinks`), so nothing outside a location's root is ever served.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from sunup.plan.model import LocationPlan, RulePlan
from sunup.router.site import AppSite, RouterSite, RouteSite, safe_name

#: Seconds nginx waits for an app's answer (the hold server's wait included).
READ_TIMEOUT = 300
#: The MIME types nginx gives static files (its own file is the system's; sunup's nginx reads
#: none of /etc/nginx).
MIME_TYPES: Mapping[str, str] = {
    "text/html": "html htm shtml",
    "text/css": "css",
    "text/xml": "xml",
    "text/plain": "txt",
    "text/csv": "csv",
    "text/markdown": "md",
    "image/gif": "gif",
    "image/jpeg": "jpeg jpg",
    "image/png": "png",
    "image/svg+xml": "svg svgz",
    "image/webp": "webp",
    "image/avif": "avif",
    "image/x-icon": "ico",
    "application/javascript": "js mjs",
    "application/json": "json map",
    "application/manifest+json": "webmanifest",
    "application/wasm": "wasm",
    "application/pdf": "pdf",
    "application/zip": "zip",
    "application/gzip": "gz",
    "application/xml": "xsl",
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "font/woff": "woff",
    "font/woff2": "woff2",
    "font/ttf": "ttf",
    "font/otf": "otf",
    "application/vnd.ms-fontobject": "eot",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "video/mp4": "mp4",
    "video/webm": "webm",
}
ACCESS_LOG_FORMAT = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $request_time'
)


def render(site: RouterSite) -> str:
    """nginx.conf for `site`."""
    return "\n".join(_main(site)) + "\n"


def render_app_servers(site: RouterSite, listen: str) -> str:
    """nginx.conf with only the apps' web servers (no router), listening on the TCP address
    `listen` (``0.0.0.0:8080``) instead of their unix sockets: a pod's web server
    (`sunup run-instance`), one app's `web.locations` in front of its instance."""
    return "\n".join(_main(site, listen=listen)) + "\n"


def links(site: RouterSite) -> dict[Path, Path]:
    """The symbolic links the configuration reaches static files through: link → target."""
    found: dict[Path, Path] = {}
    for app in site.apps:
        for index, location in enumerate(app.locations):
            for root in _roots(site, app, index, location):
                if root.link is not None:
                    found[root.link] = root.target
    return found


# -- the main file ----------------------------------------------------------------------------


def _main(site: RouterSite, listen: str | None = None) -> Iterator[str]:
    folder = site.folder
    if site.user:
        yield f"user {quote(site.user)};"
    yield f"worker_processes {site.worker_processes};"
    yield "daemon off;"
    yield "master_process on;"
    yield f"pid {quote(str(folder / 'nginx.pid'))};"
    yield f"error_log {quote(str(site.logs / 'error.log'))} warn;"
    yield "events { worker_connections 4096; }"
    yield "http {"
    yield "    types {"
    for mime, extensions in MIME_TYPES.items():
        yield f"        {mime} {extensions};"
    yield "    }"
    yield "    default_type application/octet-stream;"
    yield f"    log_format sunup {quote(ACCESS_LOG_FORMAT)};"
    yield f"    access_log {quote(str(site.logs / 'access.log'))} sunup;"
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        yield f"    {kind}_temp_path {quote(str(folder / 'temp' / kind))};"
    yield "    sendfile on;"
    yield "    tcp_nopush on;"
    yield "    tcp_nodelay on;"
    yield "    server_tokens off;"
    yield "    keepalive_timeout 65;"
    yield "    keepalive_requests 10000;"
    yield "    open_file_cache max=2000 inactive=20s;"
    yield "    open_file_cache_valid 2s;"
    yield "    server_names_hash_bucket_size 128;"
    yield "    map_hash_bucket_size 128;"
    yield "    proxy_headers_hash_bucket_size 128;"
    # A literal dollar sign in a value with variables: ${sunup_dollar}.
    yield '    geo $sunup_dollar { default "$"; }'
    # WebSocket (and any Upgrade) passes through both layers; other requests keep the
    # upstreams' keepalive connections (an empty Connection header).
    yield '    map $http_upgrade $sunup_connection { default "upgrade"; "" ""; }'
    yield (
        f"    proxy_cache_path {quote(str(folder / 'cache'))} levels=1:2 keys_zone=sunup_routes:10m"
        " max_size=256m inactive=60m use_temp_path=off;"
    )
    if any(app.protocol == "fastcgi" for app in site.apps):
        yield from _indent(_fastcgi_maps(), 1)
        yield (
            f"    fastcgi_cache_path {quote(str(folder / 'fcgi-cache'))} levels=1:2 keys_zone=sunup_fcgi_routes:10m"
            " max_size=256m inactive=60m use_temp_path=off;"
        )
    yield "    upstream sunup_hold {"
    yield f"        server {quote('unix:' + str(site.hold_socket))};"
    yield "    }"
    for app in site.apps:
        yield from _indent(_app_upstreams(site, app), 1)
    for app in site.apps:
        yield from _indent(_app_server(site, app, listen), 1)
    if listen is None:
        yield from _indent(_router_servers(site), 1)
    yield "}"


def _indent(lines: Iterator[str], depth: int) -> Iterator[str]:
    pad = "    " * depth
    for line in lines:
        yield pad + line if line else line


# -- the apps' web servers --------------------------------------------------------------------


def _app_upstreams(site: RouterSite, app: AppSite) -> Iterator[str]:
    name = safe_name(app.name)
    if app.upstreams:
        yield f"upstream sunup_app_{name} {{"
        for server in app.upstreams:
            # Never marked down: a refused connection costs microseconds, and the next try
            # after a restart must reach the new instance at once.
            yield f"    server {quote(server)} max_fails=0;"
        yield "}"
    yield f"upstream sunup_web_{name} {{"
    yield f"    server {quote('unix:' + str(site.app_socket(app.name)))};"
    yield "    keepalive 32;"
    yield "}"


def _app_server(site: RouterSite, app: AppSite, listen: str | None = None) -> Iterator[str]:
    name = safe_name(app.name)
    yield f"server {{  # {app.name}'s web server: web.locations"
    yield f"    listen {quote(listen or 'unix:' + str(site.app_socket(app.name)))};"
    yield "    server_name _;"
    yield "    access_log off;"
    yield "    absolute_redirect off;"
    # A request handed to the app by error_page (no static files here) may fail over to the hold.
    yield "    recursive_error_pages on;"
    yield from _indent(_app_locations(site, app), 1)
    yield f"}}  # {name}"


def _app_locations(site: RouterSite, app: AppSite, route: RouteSite | None = None) -> Iterator[str]:
    """The app's web server inside a server block: its root, `web.locations`, the fallbacks to
    the app and the hold. With a `route`, this is that route's own server (one hop: see
    `_inline`), and what the router's layer adds is added here: forwarded headers, cache, HSTS."""
    yield f"root {quote(str(app.root))};"
    # No locations at all: everything goes to the app (the plan's reading of spec §11).
    locations = app.locations or (LocationPlan(path="/", root=None, passthru=True),)
    if not any(loc.path == "/" for loc in locations):
        # The platform's app server: no location for a path means nothing is served there.
        yield "location / { return 404; }"
    static_headers = _route_headers(route) if route is not None else []
    for index, location in enumerate(locations):
        yield from _location(site, app, index, location, static_headers, route=route)
        yield from _app_fallback(site, app, index, location, route)
        for number, rule in enumerate(location.rules):
            name = _rule_fallback(app, index, number, rule)
            if name is not None and isinstance(rule.passthru, str):
                yield from _app_fallback(site, app, index, location, route, script=rule.passthru, name=name)
    yield "location @sunup_hold {"
    yield "    proxy_pass http://sunup_hold;"
    yield "    proxy_http_version 1.0;"
    yield "    proxy_set_header Host $http_host;"
    if route is not None:
        yield from _indent(_forwarded(), 1)
    yield f'    proxy_set_header X-Sunup-App "{literal(app.name)}";'
    if app.protocol == "fastcgi" and app.upstreams:
        # The hold cannot speak FastCGI: once an instance accepts, it sends nginx back here.
        yield f'    proxy_set_header X-Sunup-Retry "@sunup_fcgi_{safe_name(app.name)}";'
    yield '    proxy_set_header X-Sunup-Connect "$upstream_connect_time";'
    yield '    proxy_set_header X-Sunup-Upstream "$upstream_addr";'
    yield f"    proxy_read_timeout {READ_TIMEOUT}s;"
    yield "    proxy_buffering off;"
    yield "}"
    if app.protocol == "fastcgi" and app.upstreams:
        # The request the hold held, passed to FPM as its own location would have (the
        # $sunup_* variables that location set are kept).
        yield f"location @sunup_fcgi_{safe_name(app.name)} {{"
        yield from _indent(_fastcgi_pass(app, route, hold=False), 1)
        yield "}"


def _forwarded() -> Iterator[str]:
    """The headers the platform's router sets on every request it passes on."""
    yield "proxy_set_header X-Forwarded-For $remote_addr;"
    yield "proxy_set_header X-Forwarded-Proto $scheme;"
    yield "proxy_set_header X-Forwarded-Host $http_host;"
    yield "proxy_set_header X-Client-IP $remote_addr;"


class _Root:
    """Where a location (or a mount inside it) serves static files from."""

    def __init__(self, url_path: str, folder: Path, target: Path, link: Path | None) -> None:
        self.url_path = url_path  # "/" or "/static/" (ends with "/")
        self.folder = folder  # nginx's `root`
        self.target = target  # the real folder
        self.link = link  # the link in the router's folder to it (symbolic links are refused below)


def _roots(site: RouterSite, app: AppSite, index: int, location: LocationPlan) -> list[_Root]:
    """The location's root, then one per mount inside it (served from the mount's folder).

    A root that is in a mount (``web/sites/default/files``) is served from the mount's folder,
    where its files are, not from the build's empty folder under it. A mount whose URL path is
    under a longer location of the app belongs to that location (its rules, its expiry)."""
    if location.root is None:
        return []
    prefix = _prefix(location.path)
    base = location.root.strip("/")
    mounts = {mount.strip("/"): folder for mount, folder in app.mounts.items()}
    target = app.root / base if base else app.root
    holding = [m for m in mounts if m and (base == m or base.startswith(m + "/"))]
    if holding:
        mount = max(holding, key=len)
        target = mounts[mount] / base[len(mount) :].strip("/") if base != mount else mounts[mount]
    roots = [_rooted(site, app, f"{index}", prefix, target)]
    longer = [_prefix(other.path) for other in app.locations if len(_prefix(other.path)) > len(prefix)]
    for number, (inside, folder) in enumerate(sorted(mounts.items())):
        if base and not inside.startswith(base + "/"):
            continue
        relative = inside[len(base) :].strip("/") if base else inside
        if not relative:
            continue
        url_path = f"{prefix}{relative}/"
        if any(url_path.startswith(other) for other in longer):
            continue
        roots.append(_rooted(site, app, f"{index}-m{number}", url_path, folder))
    return roots


def _rooted(site: RouterSite, app: AppSite, key: str, url_path: str, target: Path) -> _Root:
    if url_path == "/":
        return _Root(url_path, target, target, None)
    # `root` + URI must land in `target`: <farm>/<url path> is a link to it.
    farm = site.folder / "roots" / safe_name(app.name) / key
    link = farm / url_path.strip("/")
    return _Root(url_path, farm, target, link)


def _prefix(path: str) -> str:
    """A location path as the prefix of its folder: "/" or "/static/"."""
    stripped = path.strip("/")
    return f"/{stripped}/" if stripped else "/"


def _location(
    site: RouterSite,
    app: AppSite,
    index: int,
    location: LocationPlan,
    extra: Sequence[str] = (),
    *,
    route: RouteSite | None = None,
) -> Iterator[str]:
    roots = _roots(site, app, index, location)
    prefix = _prefix(location.path)
    fallback = f"@sunup_app_{index}"
    if prefix != "/":
        # The bare path (/static): to the app when it takes requests, else to the folder.
        bare = prefix.rstrip("/")
        yield f"location = {quote(bare)} {{"
        # Checked here, before the request is handed on (nginx's own default is 1 MB).
        yield f"    client_max_body_size {location.max_request_size};"
        if location.passthru:
            yield f"    error_page 418 = {fallback};"
            yield "    return 418;"
        else:
            yield f'    return 301 "{literal(prefix)}$is_args$args";'
        yield "}"
    if not roots:
        yield f"location {quote(prefix)} {{"
        yield from _indent(_serve(location, None, fallback, static=False), 1)
        yield "}"
        return
    for root in roots:
        yield f"location {quote(root.url_path)} {{"
        yield f"    root {quote(str(root.folder))};"
        # One token: nginx reads `from="..."` with the quotes as part of the path.
        yield f"    disable_symlinks on {quote('from=' + str(root.link or root.target))};"
        yield from _indent(_serve(location, None, fallback, static=True, extra=extra), 1)
        for number, rule in enumerate(location.rules):
            chosen = _rule_fallback(app, index, number, rule) or fallback
            yield f"    location ~ {quote(rule.pattern)} {{"
            yield from _indent(_serve(location, rule, chosen, static=True, extra=extra), 2)
            if app.protocol == "fastcgi":
                yield from _indent(_php_scripts(app, location, rule, chosen, route), 2)
            yield "    }"
        if app.protocol == "fastcgi":
            yield from _indent(_php_scripts(app, location, None, fallback, route), 1)
        yield "}"


def _serve(
    location: LocationPlan, rule: RulePlan | None, fallback: str, *, static: bool, extra: Sequence[str] = ()
) -> Iterator[str]:
    """The body of a location (or of one of its rules): static files, or the app. `extra`:
    `add_header` lines static answers get too (a route's HSTS)."""

    def pick(name: str) -> object:
        value = getattr(rule, name) if rule is not None else None
        return getattr(location, name) if value is None else value

    allow, passthru, expires = bool(pick("allow")), pick("passthru"), pick("expires")
    headers = {**location.headers, **(rule.headers if rule is not None else {})}
    yield f"client_max_body_size {location.max_request_size};"
    if location.index:
        yield "index " + " ".join(quote(i) for i in location.index) + ";"
    else:
        yield "index _;"  # no index files: a folder is not a page
    if static and allow:
        if isinstance(expires, int) and expires >= 0:
            yield f"expires {expires}s;"
        for header, value in headers.items():
            yield f'add_header {quote(header)} "{literal(value)}";'
        yield from extra
        # A folder is tried only when it may have an index file; one without any is the app's
        # (passthru), not nginx's 403.
        folder = " $uri/" if location.index else ""
        yield f"try_files $uri{folder} {fallback if passthru else '=404'};"
        if location.index and passthru:
            yield f"error_page 403 = {fallback};"
    elif passthru:
        yield f"error_page 418 = {fallback};"
        yield "return 418;"
    else:
        yield "return 404;"


def _rule_fallback(app: AppSite, index: int, number: int, rule: RulePlan) -> str | None:
    """The named location of a rule that passes requests to a script of its own (PHP)."""
    if app.protocol != "fastcgi" or not app.upstreams or not isinstance(rule.passthru, str):
        return None
    return f"@sunup_app_{index}_r{number}"


def _app_fallback(
    site: RouterSite,
    app: AppSite,
    index: int,
    location: LocationPlan,
    route: RouteSite | None = None,
    *,
    script: str | None = None,
    name: str | None = None,
) -> Iterator[str]:
    """@sunup_app_<index>: the request passed to the app (its web instances, else the hold); an
    app without a web start command answers 503 saying so."""
    yield f"location {name or f'@sunup_app_{index}'} {{"
    yield f"    client_max_body_size {location.max_request_size};"
    kind = "fastcgi" if app.protocol == "fastcgi" else "proxy"
    yield f"    {kind}_request_buffering {'on' if location.request_buffering else 'off'};"
    if app.upstreams and app.protocol == "fastcgi":
        yield from _indent(_php_front(site, app, script or location.passthru), 1)
        yield from _indent(_fastcgi_pass(app, route), 1)
    elif app.upstreams:
        yield f"    proxy_pass http://sunup_app_{safe_name(app.name)};"
        yield "    proxy_http_version 1.1;"
        yield "    proxy_set_header Upgrade $http_upgrade;"
        yield "    proxy_set_header Connection $sunup_connection;"
        yield "    proxy_set_header Host $http_host;"
        if route is not None:
            yield from _indent(_forwarded(), 1)
            yield from _indent(_route_proxy(route), 1)
        yield "    proxy_next_upstream error timeout;"
        yield "    proxy_connect_timeout 1s;"
        yield f"    proxy_read_timeout {READ_TIMEOUT}s;"
        yield "    proxy_redirect off;"
        # The app's X-Accel-Buffering (server-sent events) goes on to the router's layer, which
        # honours it too (and hides it from the client).
        yield "    proxy_pass_header X-Accel-Buffering;"
        yield "    error_page 502 504 = @sunup_hold;"
    else:
        # Nothing to wait for (the hold would only wait its whole time): say so at once.
        message = (
            f"sunup: app {app.name} has no web instance to pass this request to: its web.commands.start"
            " is not set, so only its static files are served\n"
        )
        yield "    default_type text/plain;"
        yield f'    return 503 "{literal(message)}";'
    yield "}"


# -- PHP: FastCGI to FPM ----------------------------------------------------------------------

#: A request path naming a PHP script, with or without a path after it (/index.php/a/b); any
#: case, so that X.PHP is never served as a file either (FPM then refuses it: .php only).
PHP_SCRIPT = r"\.php(/|$)"
#: The script part and the PATH_INFO part of such a path.
PHP_SPLIT = r"^(.+?\.php)(/.*)$"


def _fastcgi_maps() -> Iterator[str]:
    """What a request through the router's layer says of the client: its scheme (the router's
    X-Forwarded-Proto) and port (from its Host), for HTTPS and SERVER_PORT."""
    yield 'map $http_x_forwarded_proto $sunup_fcgi_https { https "on"; default ""; }'
    yield 'map $http_x_forwarded_proto $sunup_fcgi_scheme { https "https"; default "http"; }'
    yield "map $http_host $sunup_fcgi_port {"
    yield '    "~:(?<port>[0-9]+)$" $port;'
    yield "    default $sunup_fcgi_default_port;"
    yield "}"
    yield 'map $http_x_forwarded_proto $sunup_fcgi_default_port { https "443"; default "80"; }'
    yield 'map $http_host $sunup_fcgi_server_name { "~^(?<name>[^:]+)" $name; default ""; }'


def _php_scripts(
    app: AppSite, location: LocationPlan, rule: RulePlan | None, fallback: str, route: RouteSite | None
) -> Iterator[str]:
    """`.php` paths under a root: run by FPM where `scripts` (the rule's, else the location's)
    is true, else never served: they go where a missing file goes (the app, or 404)."""
    scripts = rule.scripts if rule is not None and rule.scripts is not None else location.scripts
    passthru = rule.passthru if rule is not None and rule.passthru is not None else location.passthru
    yield f"location ~* {quote(PHP_SCRIPT)} {{"
    if not scripts:
        if passthru:
            yield f"    error_page 418 = {fallback};"
            yield "    return 418;"
        else:
            yield "    return 404;"
        yield "}"
        return
    yield f"    fastcgi_split_path_info {quote(PHP_SPLIT)};"
    # Kept before try_files, which drops the path info when it finds the script.
    yield "    set $sunup_path_info $fastcgi_path_info;"
    yield "    set $sunup_script_name $fastcgi_script_name;"
    yield "    set $sunup_script_filename $document_root$fastcgi_script_name;"
    yield "    set $sunup_document_root $document_root;"
    # Only a file that is there (under the root, no symbolic link out: disable_symlinks) runs.
    yield f"    try_files $fastcgi_script_name {fallback if passthru else '=404'};"
    yield from _indent(_fastcgi_pass(app, route), 1)
    yield "}"


def _php_front(site: RouterSite, app: AppSite, passthru: object) -> Iterator[str]:
    """The script a location passes requests to: `passthru: "/index.php"` is a URL path (from a
    files location too, it is the app's front controller), found as nginx would serve it: under
    the root of the location that holds it. `passthru: true` is taken as /index.php. A query in
    it (a rule's ``/public.php?service=host-meta``) becomes the request's."""
    script = passthru if isinstance(passthru, str) else "/index.php"
    script, _, query = ("/" + script.lstrip("/")).partition("?")
    if query:
        yield f'set $args "{literal(query)}";'
    folder = app.root
    name = script
    holders = [(i, loc) for i, loc in enumerate(app.locations) if script.startswith(_prefix(loc.path))]
    if holders:
        index, holder = max(holders, key=lambda pair: len(_prefix(pair[1].path)))
        roots = [r for r in _roots(site, app, index, holder) if script.startswith(r.url_path)]
        if roots:
            root = max(roots, key=lambda r: len(r.url_path))
            folder, name = root.target, "/" + script[len(root.url_path) :]
    yield 'set $sunup_path_info "";'
    yield f'set $sunup_script_name "{literal(script)}";'
    yield f'set $sunup_script_filename "{literal(str(folder).rstrip("/") + name)}";'
    yield f'set $sunup_document_root "{literal(str(folder))}";'


def _fastcgi_pass(app: AppSite, route: RouteSite | None, *, hold: bool = True) -> Iterator[str]:
    """The request to the app's FPM, its script in the $sunup_* variables the location set.
    Through the router's layer (`route` None), the client's address, scheme and port are the
    ones the router's headers say; in the route's own server, nginx's own."""
    yield "fastcgi_param SCRIPT_FILENAME $sunup_script_filename;"
    yield "fastcgi_param SCRIPT_NAME $sunup_script_name;"
    yield "fastcgi_param PATH_INFO $sunup_path_info;"
    yield "fastcgi_param DOCUMENT_ROOT $sunup_document_root;"
    yield "fastcgi_param DOCUMENT_URI $document_uri;"
    yield "fastcgi_param REQUEST_URI $request_uri;"
    yield "fastcgi_param QUERY_STRING $query_string;"
    yield "fastcgi_param REQUEST_METHOD $request_method;"
    yield "fastcgi_param CONTENT_TYPE $content_type;"
    yield "fastcgi_param CONTENT_LENGTH $content_length;"
    yield "fastcgi_param SERVER_PROTOCOL $server_protocol;"
    yield "fastcgi_param GATEWAY_INTERFACE CGI/1.1;"
    yield "fastcgi_param SERVER_SOFTWARE nginx;"
    yield "fastcgi_param REDIRECT_STATUS 200;"
    # httpoxy: a client's Proxy header must not become PHP's HTTP_PROXY.
    yield 'fastcgi_param HTTP_PROXY "";'
    if route is None:
        yield "fastcgi_param REMOTE_ADDR $http_x_client_ip;"
        yield "fastcgi_param REMOTE_PORT 0;"
        yield "fastcgi_param REQUEST_SCHEME $sunup_fcgi_scheme;"
        yield "fastcgi_param HTTPS $sunup_fcgi_https if_not_empty;"
        yield "fastcgi_param SERVER_NAME $sunup_fcgi_server_name;"
        yield "fastcgi_param SERVER_PORT $sunup_fcgi_port;"
        yield "fastcgi_param SERVER_ADDR 127.0.0.1;"
    else:
        yield "fastcgi_param REMOTE_ADDR $remote_addr;"
        yield "fastcgi_param REMOTE_PORT $remote_port;"
        yield "fastcgi_param REQUEST_SCHEME $scheme;"
        yield "fastcgi_param HTTPS $https if_not_empty;"
        yield "fastcgi_param SERVER_NAME $host;"
        yield "fastcgi_param SERVER_PORT $server_port;"
        yield "fastcgi_param SERVER_ADDR $server_addr;"
        yield "fastcgi_param HTTP_X_FORWARDED_FOR $remote_addr;"
        yield "fastcgi_param HTTP_X_FORWARDED_PROTO $scheme;"
        yield "fastcgi_param HTTP_X_FORWARDED_HOST $http_host;"
        yield "fastcgi_param HTTP_X_CLIENT_IP $remote_addr;"
        yield from _route_proxy(route, "fastcgi")
    yield f"fastcgi_pass sunup_app_{safe_name(app.name)};"
    yield "fastcgi_next_upstream error timeout;"
    yield "fastcgi_connect_timeout 1s;"
    yield f"fastcgi_read_timeout {READ_TIMEOUT}s;"
    yield "fastcgi_buffers 64 8k;"
    if hold:
        yield "error_page 502 504 = @sunup_hold;"


# -- the router -------------------------------------------------------------------------------


def _router_servers(site: RouterSite) -> Iterator[str]:
    servers: dict[tuple[str, str], list[RouteSite]] = {}
    for route in site.routes:
        servers.setdefault((route.scheme, route.host), []).append(route)
    known = ", ".join(r.url for r in site.routes) or "none"
    for scheme in ("http", "https"):
        if scheme == "https" and site.certificate is None:
            continue
        yield "server {"
        yield from _indent(_listen(site, scheme, default=True), 1)
        yield "    server_name _;"
        yield "    default_type text/plain;"
        yield f'    return 404 "sunup: no route for host $host. Routes: {literal(known)}\\n";'
        yield "}"
    for (scheme, host), routes in servers.items():
        if scheme == "https" and site.certificate is None:
            continue
        inline = _inline(site, routes)
        if inline is not None:
            app, route = inline
            yield "server {"
            yield from _indent(_listen(site, scheme, default=False), 1)
            yield f"    server_name {quote(host)};"
            yield "    client_max_body_size 0;"
            yield "    absolute_redirect off;"
            yield "    recursive_error_pages on;"
            yield f"    # {route.route.original_url}: {app.name}'s web server, in the route's own server"
            yield from _indent(_app_locations(site, app, route), 1)
            yield "}"
            continue
        yield "server {"
        yield from _indent(_listen(site, scheme, default=False), 1)
        yield f"    server_name {quote(host)};"
        yield "    client_max_body_size 0;"
        yield "    absolute_redirect off;"
        seen: set[str] = set()
        for route in sorted(routes, key=lambda r: (r.path, r.route.generated)):
            if route.path in seen:  # {default} and {all} on one machine: the first wins
                continue
            seen.add(route.path)
            yield from _indent(_route_location(site, route), 1)
        yield "}"


def _inline(site: RouterSite, routes: Sequence[RouteSite]) -> tuple[AppSite, RouteSite] | None:
    """The app whose web server is rendered into this host's server, and its route, or None.

    One hop instead of two (the router's server, then the app's over its socket) costs nginx
    ~35 µs less per request, on 2 cores as much more for the app (bench/router.py): done when
    the host has one route, an upstream route on "/", that adds nothing the app's locations
    would have to compose with (no partial redirects, no ssi on static files). A PHP app's
    FastCGI requests then carry the forwarded values and the route's cache (`fastcgi_cache`)."""
    paths = {r.path for r in routes}
    if paths != {"/"}:
        return None
    route = min(routes, key=lambda r: r.route.generated)
    plan = route.route
    app = site.app(plan.upstream or "")
    if app is None or plan.type != "upstream" or plan.redirects or plan.ssi:
        return None
    return app, route


def _listen(site: RouterSite, scheme: str, *, default: bool) -> Iterator[str]:
    address = site.address
    flag = " default_server" if default else ""
    if scheme == "https":
        yield f"listen {address.bind}:{address.https_port} ssl http2{flag};"
        yield f"ssl_certificate {quote(str(site.certificate))};"
        yield f"ssl_certificate_key {quote(str(site.key))};"
        yield "ssl_protocols TLSv1.2 TLSv1.3;"
        yield "ssl_session_cache shared:sunup_tls:1m;"
    else:
        yield f"listen {address.bind}:{address.http_port}{flag};"


def _route_location(site: RouterSite, route: RouteSite) -> Iterator[str]:
    """The route's location, and for a path route (/admin/) its bare path too (/admin): both
    are the route's, as on the platform (else /admin would go to the route of /). Its partial
    redirects are nested in it: they apply to the requests of this route only, not to those of
    a more specific route of the same host."""
    inside = list(_route_body(site, route))
    yield f"location {quote(route.path)} {{  # {route.route.original_url}"
    yield from _indent(_partial_redirects(route), 1)
    yield from inside
    yield "}"
    if route.path != "/":
        yield f"location = {quote(route.path.rstrip('/'))} {{"
        yield from inside
        yield "}"


def _route_body(site: RouterSite, route: RouteSite) -> Iterator[str]:
    plan = route.route
    headers = _route_headers(route)
    if plan.type == "redirect":
        for header in headers:
            yield f"    {header}"
        target = route.to or "/"
        suffix = re.escape(route.path)
        yield f"    if ($request_uri ~ {quote('^' + suffix + '(.*)$')}) {{"
        yield f'        return {plan.code} "{literal(target.rstrip("/") + "/")}$1";'
        yield "    }"
        yield f'    return {plan.code} "{literal(target)}";'
        return
    app = site.app(plan.upstream or "")
    if app is None:
        yield "    default_type text/plain;"
        message = f"sunup: route {route.url} sends to app {plan.upstream}, which is not running\n"
        yield f'    return 502 "{literal(message)}";'
        return
    yield f"    proxy_pass http://sunup_web_{safe_name(app.name)};"
    yield "    proxy_http_version 1.1;"
    yield "    proxy_set_header Upgrade $http_upgrade;"
    yield "    proxy_set_header Connection $sunup_connection;"
    yield "    proxy_set_header Host $http_host;"
    yield from _indent(_forwarded(), 1)
    yield "    proxy_request_buffering off;"
    # Answers up to 512 KiB cross the router's layer in memory: with the default 8 x 8k a
    # 128 KiB static file went through a temporary file at every request (bench/router.py).
    yield "    proxy_buffers 64 8k;"
    yield f"    proxy_read_timeout {READ_TIMEOUT}s;"
    yield "    proxy_redirect off;"
    yield from _indent(_route_proxy(route), 1)


def _route_proxy(route: RouteSite, kind: str = "proxy") -> Iterator[str]:
    """What a route adds to the answers it passes on: ssi, its cache, its headers. `kind`:
    proxy, or fastcgi (a PHP app's FPM in the route's own server: a cache zone of its own)."""
    plan = route.route
    headers = _route_headers(route)
    if plan.ssi:
        yield "ssi on;"
    cache = plan.cache
    if cache.enabled:
        yield f"{kind}_cache {'sunup_routes' if kind == 'proxy' else 'sunup_fcgi_routes'};"
        yield f'{kind}_cache_key "{_cache_key(route)}";'
        yield f"{kind}_cache_methods GET HEAD;"
        if cache.default_ttl > 0:
            yield f"{kind}_cache_valid 200 203 300 301 302 404 410 {cache.default_ttl}s;"
        headers.append("add_header X-Platform-Cache $upstream_cache_status always;")
    else:
        yield f"{kind}_no_cache 1;"
    yield from headers


def _route_headers(route: RouteSite) -> list[str]:
    hsts = route.route.hsts
    if route.scheme != "https" or not hsts.get("enabled"):
        return []
    value = "max-age=31536000"
    if hsts.get("include_subdomains"):
        value += "; includeSubDomains"
    if hsts.get("preload"):
        value += "; preload"
    return [f"add_header Strict-Transport-Security {quote(value)} always;"]


def _cache_key(route: RouteSite) -> str:
    """The cache key: the URL, then the route's cookies and headers (spec §10)."""
    cache = route.route.cache
    parts = ["$scheme://$http_host$request_uri"]
    cookies = cache.cookies
    if "*" in cookies or any(not re.fullmatch(r"[A-Za-z0-9_.-]+", c) for c in cookies):
        # Every cookie (wildcards and patterns too: a key with more in it is never wrong).
        parts.append("$http_cookie")
    else:
        parts.extend(f"{c}=${{cookie_{c}}}" for c in cookies)
    parts.extend(f"{h}=$http_{h.lower().replace('-', '_')}" for h in cache.headers if re.fullmatch(r"[A-Za-z0-9-]+", h))
    return "|".join(parts)


def _partial_redirects(route: RouteSite) -> Iterator[str]:
    """`redirects.paths` of a route, as regex locations nested in the route's (nginx checks them
    before the route's own body, in the order written)."""
    for entry in route.redirects:
        redirect = entry.redirect
        expires = [f"expires {entry.expires}s;"] if entry.expires is not None and entry.expires >= 0 else []
        if redirect.regexp:
            # \\1 in the target is the regex's first group: $1 for nginx.
            target = re.sub(r"\\\\(\d)", r"$\1", literal(entry.to))
            yield f"location ~ {quote(redirect.path)} {{"
            yield from (f"    {e}" for e in expires)
            yield f'    return {redirect.code} "{target}";'
            yield "}"
            continue
        path = "/" + redirect.path.strip("/") if redirect.path.strip("/") else "/"
        to = literal(entry.to)
        if not redirect.prefix:
            yield f"location = {quote(path)} {{"
            yield from (f"    {e}" for e in expires)
            yield f'    return {redirect.code} "{to}$is_args$args";'
            yield "}"
            continue
        pattern = "^" + re.escape(path.rstrip("/")) + "(/.*)?$"
        suffix = "$1" if redirect.append_suffix else ""
        yield f"location ~ {quote(pattern)} {{"
        yield from (f"    {e}" for e in expires)
        yield f'    return {redirect.code} "{to.rstrip("/") if suffix else to}{suffix}$is_args$args";'
        yield "}"


# -- quoting ----------------------------------------------------------------------------------


def quote(text: str) -> str:
    """`text` as one nginx string (for directives that read no variables, or text without `$`)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(text: str) -> str:
    """The inside of a double-quoted nginx value that reads variables (`return`, `add_header`),
    saying `text` as written: each `$` in it becomes ${sunup_dollar}."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return escaped.replace("$", "${sunup_dollar}")
