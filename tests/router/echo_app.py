"""A tiny web app for the router's tests: it answers every request with what it received.

    python echo_app.py NAME tcp          # listens on 127.0.0.1, a free port
    python echo_app.py NAME unix:PATH    # listens on the unix socket PATH

It prints ``ready <port or path>`` once it listens. Each answer is JSON: the app's name, the
method, the request target as received, the headers, the body and a count of the requests it
answered. ``?cc=VALUE`` sets the answer's Cache-Control to VALUE; a path starting with ``/ssi``
answers HTML with server-side include directives; an Upgrade request (a WebSocket's
handshake) is answered 101, then every byte it sends comes back; ``/events`` streams
server-sent events asking proxies not to buffer them (X-Accel-Buffering: no).
"""

from __future__ import annotations

import json
import os
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

NAME = sys.argv[1]
LOCK = threading.Lock()
COUNT = [0]
SSI = '<html><body><!--# set var="sunup_probe" value="ssi-ran" --><!--# echo var="sunup_probe" --></body></html>'


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def address_string(self) -> str:
        return "client"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        if self.headers.get("Upgrade"):
            self._upgraded()
            return
        if self.path.startswith("/events"):
            self._events()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with LOCK:
            COUNT[0] += 1
            count = COUNT[0]
        query = parse_qs(urlsplit(self.path).query)
        if self.path.startswith("/ssi"):
            payload, kind = SSI.encode(), "text/html"
        else:
            document = {
                "app": NAME,
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("latin-1"),
                "count": count,
            }
            payload, kind = json.dumps(document).encode(), "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        if "cc" in query:
            self.send_header("Cache-Control", query["cc"][0])
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _upgraded(self) -> None:
        """An Upgrade request (a WebSocket's handshake): 101, then every byte sent back."""
        self.send_response(101)
        self.send_header("Upgrade", self.headers["Upgrade"])
        self.send_header("Connection", "Upgrade")
        self.end_headers()
        self.wfile.flush()
        while data := self.connection.recv(65536):
            self.connection.sendall(data)
        self.close_connection = True

    def _events(self) -> None:
        """Server-sent events that ask not to be buffered: a first event at once, the second
        once ten seconds pass (a proxy that buffers shows the first only then)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Accel-Buffering", "no")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"data: first\n\n")
        self.wfile.flush()
        threading.Event().wait(10)
        self.wfile.write(b"data: second\n\n")
        self.wfile.flush()
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main() -> None:
    where = sys.argv[2]
    server: socketserver.BaseServer
    if where.startswith("unix:"):
        path = where[5:]
        if os.path.exists(path):
            os.unlink(path)
        server = UnixServer(path, Echo)
        shown = path
    else:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        shown = str(server.server_address[1])
    print(f"ready {shown}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
