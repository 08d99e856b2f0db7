"""Stop and start again: data and ports survive; ephemeral Redis forgets; failures are clear and clean."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sunup.plan.model import EndpointPlan, ServicePlan, frozen_map
from sunup.services.location import services_dir
from sunup.services.manager import ServiceManager
from tests.services.conftest import make_state_dir, require_binaries, start_bounded

pika = pytest.importorskip("pika", reason="the services tests need the dev extras (see .notes/services.md)")
psycopg = pytest.importorskip("psycopg", reason="the services tests need the dev extras (see .notes/services.md)")
pymysql = pytest.importorskip("pymysql", reason="the services tests need the dev extras (see .notes/services.md)")
redis = pytest.importorskip("redis", reason="the services tests need the dev extras (see .notes/services.md)")

#: The defaults of spec §5: no configuration.
SERVICES = (
    ServicePlan("mysql", "mariadb:10.11", "mariadb", "10.11", "mysql",
                (EndpointPlan("mysql", "main", frozen_map({"main": "admin"})),), schemas=("main",)),
    ServicePlan("postgresql", "postgresql:15", "postgresql", "15", "pgsql",
                (EndpointPlan("postgresql", "main", frozen_map({"main": "admin"})),), schemas=("main",)),
    ServicePlan("cache", "redis:7.0", "redis", "7.0", "redis", (EndpointPlan("redis", None),)),
    ServicePlan("store", "redis-persistent:7.0", "redis-persistent", "7.0", "redis", (EndpointPlan("redis", None),)),
    ServicePlan("rabbitmq", "rabbitmq:3.13", "rabbitmq", "3.13", "amqp", (EndpointPlan("rabbitmq", None),)),
)  # fmt: skip


@pytest.fixture
def state_dir() -> Iterator[Path]:
    folder = make_state_dir("sunup-lifecycle-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_everything(manager: ServiceManager) -> None:
    access = manager.access()
    db = access[("mysql", "mysql")]
    with (
        pymysql.connect(
            host=db.host, port=db.port, user=db.username, password=db.password, database=db.path, autocommit=True
        ) as c,
        c.cursor() as cur,
    ):
        cur.execute("CREATE TABLE kept (v TEXT)")
        cur.execute("INSERT INTO kept VALUES ('mariadb')")
    pg = access[("postgresql", "postgresql")]
    with psycopg.connect(
        host=pg.host, port=pg.port, user=pg.username, password=pg.password, dbname=pg.path, autocommit=True
    ) as c:
        c.execute("CREATE TABLE kept (v TEXT)")
        c.execute("INSERT INTO kept VALUES ('postgresql')")
    for name in ("cache", "store"):
        r = access[(name, "redis")]
        redis.Redis(host=r.host, port=r.port).set("kept", name)
    mq = access[("rabbitmq", "rabbitmq")]
    connection = pika.BlockingConnection(
        pika.ConnectionParameters(mq.host, mq.port, "/", pika.PlainCredentials(mq.username or "", mq.password or ""))
    )
    channel = connection.channel()
    channel.queue_declare("kept", durable=True)
    channel.basic_publish("", "kept", b"rabbitmq", pika.BasicProperties(delivery_mode=2))
    connection.close()


def read_everything(manager: ServiceManager) -> dict[str, object]:
    access = manager.access()
    db = access[("mysql", "mysql")]
    with (
        pymysql.connect(host=db.host, port=db.port, user=db.username, password=db.password, database=db.path) as c,
        c.cursor() as cur,
    ):
        cur.execute("SELECT v FROM kept")
        mariadb = cur.fetchone()
    pg = access[("postgresql", "postgresql")]
    with psycopg.connect(host=pg.host, port=pg.port, user=pg.username, password=pg.password, dbname=pg.path) as c:
        postgres = c.execute("SELECT v FROM kept").fetchone()
    values = {
        name: redis.Redis(host=access[(name, "redis")].host, port=access[(name, "redis")].port).get("kept")
        for name in ("cache", "store")
    }
    mq = access[("rabbitmq", "rabbitmq")]
    connection = pika.BlockingConnection(
        pika.ConnectionParameters(mq.host, mq.port, "/", pika.PlainCredentials(mq.username or "", mq.password or ""))
    )
    _, _, body = connection.channel().basic_get("kept", auto_ack=True)
    connection.close()
    return {"mariadb": mariadb, "postgresql": postgres, **values, "rabbitmq": body}


@pytest.mark.slow
def test_data_and_ports_survive_stop_and_start(state_dir: Path) -> None:
    """A second start reuses each port, data folder and password: rows, AOF keys and durable messages are there."""
    require_binaries(SERVICES, services_dir(state_dir))
    first = ServiceManager(SERVICES, services_dir(state_dir))
    try:
        asyncio.run(start_bounded(first))
        access = first.access()
        write_everything(first)
    finally:
        asyncio.run(first.stop())
    progress: list[str] = []
    second = ServiceManager(SERVICES, services_dir(state_dir), progress=lambda p: progress.append(p.step))
    try:
        asyncio.run(start_bounded(second))
        assert second.access() == access
        assert "initialise" not in progress
        assert read_everything(second) == {
            "mariadb": ("mariadb",),
            "postgresql": ("postgresql",),
            "cache": None,
            "store": b"store",
            "rabbitmq": b"rabbitmq",
        }
    finally:
        asyncio.run(second.stop())
