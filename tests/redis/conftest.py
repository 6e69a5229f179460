"""Fixtures for the tests of ``supervisor.redis``, against a real redis-server.

Without redis-server or coredis these tests are skipped, unless
``SUPERVISOR_REQUIRE_REDIS=1`` (set by ``.ci/run``), which makes that an error.
"""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from .server import RedisCluster, RedisServer

if TYPE_CHECKING:
    from collections.abc import Iterator

REQUIRED = os.environ.get("SUPERVISOR_REQUIRE_REDIS") == "1"


def _need(what: str, present: bool) -> None:
    if present:
        return
    if REQUIRED:
        pytest.fail(f"{what} is missing and SUPERVISOR_REQUIRE_REDIS=1")
    pytest.skip(f"{what} is missing")


def _serve(directory: Path) -> Iterator[RedisServer]:
    _need("redis-server", shutil.which("redis-server") is not None)
    _need("coredis", _has_coredis())
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One server for the session; each test uses queues of its own."""
    yield from _serve(tmp_path_factory.mktemp("redis"))


@pytest.fixture
def own_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server for one test, which it may kill and restart."""
    yield from _serve(tmp_path)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A local 3-master Redis Cluster for the session, started on first use."""
    _need("redis-server", shutil.which("redis-server") is not None)
    _need("redis-cli", shutil.which("redis-cli") is not None)
    _need("coredis", _has_coredis())
    cluster = RedisCluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def queue() -> str:
    """A queue name of this test's own."""
    return f"q-{uuid.uuid4().hex[:12]}"


def _has_coredis() -> bool:
    try:
        import coredis  # noqa: F401
    except ImportError:
        return False
    return True


#: The longest one test of this folder may take (real seconds).
TEST_BOUND = 60


def _bounded(test: Any) -> Any:
    @functools.wraps(test)
    async def run(**kwargs: Any) -> Any:
        with anyio.fail_after(TEST_BOUND):
            return await test(**kwargs)

    return run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if (
            isinstance(item, pytest.Function)
            and item.get_closest_marker("anyio")
            and here in Path(str(item.fspath)).parents
        ):
            item.obj = _bounded(item.obj)
