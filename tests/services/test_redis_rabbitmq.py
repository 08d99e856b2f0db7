"""Redis, RabbitMQ and network-storage answer real clients as the relationships say."""

from __future__ import annotations

import pytest

from tests.services.conftest import RunningProject

pika = pytest.importorskip("pika", reason="the services tests need the dev extras (see .notes/services.md)")
redis = pytest.importorskip("redis", reason="the services tests need the dev extras (see .notes/services.md)")
ProbableAccessDeniedError = pika.exceptions.ProbableAccessDeniedError
ProbableAuthenticationError = pika.exceptions.ProbableAuthenticationError


def test_redis_serves_without_credentials(running_project: RunningProject) -> None:
    """The `redis` relationship has no user and no password, and SET/GET work."""
    credentials = running_project.credentials("cache", "redis")
    assert credentials.username is None and credentials.password is None
    client = redis.Redis(host=credentials.host, port=credentials.port, socket_timeout=5)
    client.set("greeting", "hello")
    assert client.get("greeting") == b"hello"
    assert client.config_get("appendonly")["appendonly"] == "no"


def test_redis_persistent_uses_append_only_file_and_policy(running_project: RunningProject) -> None:
    """`redis-persistent` appends to a file in its data folder and honours maxmemory_policy."""
    credentials = running_project.credentials("store", "redis")
    client = redis.Redis(host=credentials.host, port=credentials.port, socket_timeout=5)
    config = client.config_get("*")
    assert config["appendonly"] == "yes"
    assert config["maxmemory-policy"] == "volatile-lru"
    assert config["dir"] == str(running_project.manager.providers["store"].home.data)


def amqp(host: str, port: int, vhost: str, user: str, password: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(
        pika.ConnectionParameters(
            host, port, vhost, pika.PlainCredentials(user, password), connection_attempts=1, socket_timeout=5
        )
    )


def test_rabbitmq_endpoint_user_publishes_and_consumes_on_its_vhost(running_project: RunningProject) -> None:
    """The endpoint's user opens its vhost (`jobs`), and a message goes round through a queue."""
    credentials = running_project.credentials("queue", "rabbitmq")
    assert credentials.path == "jobs"
    connection = amqp(
        credentials.host, credentials.port, "jobs", credentials.username or "", credentials.password or ""
    )
    try:
        channel = connection.channel()
        channel.queue_declare("tests", durable=True)
        channel.basic_publish("", "tests", b"job-1")
        method, _, body = channel.basic_get("tests", auto_ack=True)
        assert method is not None and body == b"job-1"
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("user", "password", "vhost", "error"),
    [
        ("guest", "guest", "/", ProbableAuthenticationError),
        ("rabbitmq", "wrong", "jobs", ProbableAuthenticationError),
        ("rabbitmq", None, "nowhere", ProbableAccessDeniedError),
    ],
)
def test_rabbitmq_refuses_other_users_passwords_and_vhosts(
    running_project: RunningProject, user: str, password: str | None, vhost: str, error: type[Exception]
) -> None:
    """No guest user, no wrong password, no vhost that the configuration does not list."""
    credentials = running_project.credentials("queue", "rabbitmq")
    with pytest.raises(error):
        amqp(credentials.host, credentials.port, vhost, user, password or credentials.password or "")


def test_network_storage_is_a_folder(running_project: RunningProject) -> None:
    """network-storage makes its folder and runs no process."""
    provider = running_project.manager.providers["files"]
    assert provider.home.data.is_dir()
    assert "files" not in running_project.manager.children
