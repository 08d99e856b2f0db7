"""The mail worker: takes messages from RabbitMQ and reports what it would send. It has no database."""

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


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    connection = services.rabbitmq()
    channel = connection.channel()
    services.declare(channel)
    print(f"mail worker (TYPE={os.environ.get('TYPE')}) waiting; MySQL in env: {'MYSQL_HOST' in os.environ}", flush=True)
    while not stopping:
        method, _properties, body = channel.basic_get(queue="mail")
        if method is None:
            connection.sleep(0.2)
            continue
        message = json.loads(body)
        print(f"would send mail to {message['to']}", flush=True)
        channel.basic_ack(method.delivery_tag)
    connection.close()
    sys.exit(0)


if __name__ == "__main__":
    while True:
        try:
            main()
        except Exception as exc:
            if stopping:
                sys.exit(0)
            print(f"mail worker: {exc!r}; retrying in 1 s", flush=True)
            time.sleep(1)
