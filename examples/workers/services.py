"""Connections to the example's services, from the relationships the platform (or sunup) gives."""

from __future__ import annotations

import pika
import pymysql
from platformshconfig import Config

config = Config()


def rabbitmq() -> pika.BlockingConnection:
    creds = config.credentials("rabbitmq")
    parameters = pika.ConnectionParameters(
        host=creds["host"],
        port=int(creds["port"]),
        virtual_host=creds.get("path") or "/",
        credentials=pika.PlainCredentials(creds["username"], creds["password"]),
        heartbeat=30,
    )
    return pika.BlockingConnection(parameters)


def mysql() -> pymysql.connections.Connection:
    creds = config.credentials("mysql")
    return pymysql.connect(
        host=creds["host"],
        port=int(creds["port"]),
        user=creds["username"],
        password=creds["password"],
        database=creds["path"],
        autocommit=True,
    )


def declare(channel: pika.adapters.blocking_connection.BlockingChannel) -> None:
    channel.queue_declare(queue="jobs", durable=True)
    channel.queue_declare(queue="mail", durable=True)
