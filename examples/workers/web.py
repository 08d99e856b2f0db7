"""The web instance: accepts jobs over HTTP and hands them to the workers through RabbitMQ.

    POST /jobs   body: any text   -> 202, {"id": ...}; the queue worker writes it to MariaDB
    POST /mail   body: an address -> 202; the mail worker reports what it would send
    GET  /jobs/ID                 -> 200 with the row once the queue worker has written it, else 404
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import pika

import services

Start = Callable[[str, list[tuple[str, str]]], Any]


def _reply(start: Start, status: str, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _publish(queue: str, message: dict[str, Any]) -> None:
    connection = services.rabbitmq()
    try:
        channel = connection.channel()
        services.declare(channel)
        channel.basic_publish(
            exchange="",
            routing_key=queue,
            body=json.dumps(message).encode(),
            properties=pika.BasicProperties(delivery_mode=2),
        )
    finally:
        connection.close()


def app(environ: dict[str, Any], start: Start) -> Iterable[bytes]:
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(size).decode() if size else ""
    if method == "POST" and path == "/jobs":
        job = {"id": str(uuid.uuid4()), "payload": body}
        _publish("jobs", job)
        return _reply(start, "202 Accepted", {"id": job["id"]})
    if method == "POST" and path == "/mail":
        _publish("mail", {"to": body.strip()})
        return _reply(start, "202 Accepted", {"queued": body.strip()})
    if method == "GET" and path.startswith("/jobs/"):
        connection = services.mysql()
        try:
            with connection.cursor() as cursor:
                cursor.execute("CREATE TABLE IF NOT EXISTS jobs (id VARCHAR(36) PRIMARY KEY, payload TEXT, worker VARCHAR(64))")
                cursor.execute("SELECT id, payload, worker FROM jobs WHERE id = %s", (path.removeprefix("/jobs/"),))
                row = cursor.fetchone()
        finally:
            connection.close()
        if row is None:
            return _reply(start, "404 Not Found", {"error": "no such job yet"})
        return _reply(start, "200 OK", {"id": row[0], "payload": row[1], "worker": row[2]})
    if method == "GET" and path == "/":
        return _reply(start, "200 OK", {"type": os.environ.get("TYPE"), "app": os.environ.get("PLATFORM_APPLICATION_NAME")})
    return _reply(start, "404 Not Found", {"error": f"no route for {method} {path}"})
