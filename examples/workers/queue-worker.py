"""The queue worker: takes jobs from RabbitMQ and writes each into MariaDB.

On SIGTERM it finishes the job in hand, then exits (the platform sends SIGTERM, then SIGKILL 15 s
later).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import services

stopping = False


def _stop(_signum: int, _frame: object) -> None:
    global stopping
    stopping = True
    print("SIGTERM: finishing the job in hand, then exiting", flush=True)


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    database = services.mysql()
    with database.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS jobs (id VARCHAR(36) PRIMARY KEY, payload TEXT, worker VARCHAR(64))")
    connection = services.rabbitmq()
    channel = connection.channel()
    services.declare(channel)
    name = os.environ.get("PLATFORM_APPLICATION_NAME", "queue")
    print(f"{name} (TYPE={os.environ.get('TYPE')}) waiting for jobs", flush=True)
    while not stopping:
        method, _properties, body = channel.basic_get(queue="jobs")
        if method is None:
            connection.sleep(0.2)
            continue
        job = json.loads(body)
        with database.cursor() as cursor:
            cursor.execute(
                "REPLACE INTO jobs (id, payload, worker) VALUES (%s, %s, %s)", (job["id"], job["payload"], name)
            )
        channel.basic_ack(method.delivery_tag)
        print(f"job {job['id']} done", flush=True)
    connection.close()
    database.close()
    sys.exit(0)


if __name__ == "__main__":
    while True:
        try:
            main()
        except Exception as exc:  # a service not ready yet: say so and retry, as a worker should
            if stopping:
                sys.exit(0)
            print(f"queue worker: {exc!r}; retrying in 1 s", flush=True)
            time.sleep(1)
