"""The public surface of ``supervisor.redis``: pinned names, each claiming to live
there (errors and Backoff are shared with ``supervisor``)."""

from __future__ import annotations

import types

import pytest

import supervisor

redis = pytest.importorskip("supervisor.redis")

EXPECTED = [
    "Backoff",
    "Codec",
    "JobCancelled",
    "JobDead",
    "JobDefinition",
    "JobFailed",
    "JobHandle",
    "JobInfo",
    "JobMalformed",
    "JobNotFound",
    "JobRegistry",
    "JobStatus",
    "JsonCodec",
    "MalformedEntry",
    "MsgspecCodec",
    "Queue",
    "QueueStats",
    "RedisUnavailable",
    "Worker",
    "WorkerStatistics",
    "open_queue",
    "open_worker",
]


def test_public_names_are_pinned() -> None:
    public = sorted(
        n
        for n in dir(redis)
        if not n.startswith("_") and not isinstance(getattr(redis, n), types.ModuleType)
    )
    assert public == EXPECTED


def test_every_public_name_claims_its_module() -> None:
    for name in EXPECTED:
        obj = getattr(redis, name)
        expected = "supervisor" if name == "Backoff" else "supervisor.redis"
        assert obj.__module__ == expected, name
    assert redis.Backoff is supervisor.Backoff


def test_job_errors_are_supervisor_errors() -> None:
    for name in ("JobCancelled", "JobDead", "JobFailed", "JobNotFound"):
        assert issubclass(getattr(redis, name), supervisor.SupervisorError)
    assert issubclass(redis.JobNotFound, LookupError)


def test_job_status_values_are_the_lowercase_names() -> None:
    assert {m.value for m in redis.JobStatus} == {
        m.name.lower() for m in redis.JobStatus
    }
    assert {s for s in redis.JobStatus if s.is_terminal} == {
        redis.JobStatus.SUCCEEDED,
        redis.JobStatus.FAILED,
        redis.JobStatus.DEAD,
        redis.JobStatus.CANCELLED,
    }


def test_importing_supervisor_does_not_import_coredis() -> None:
    """The core keeps its three dependencies: coredis loads only with the extra."""
    import subprocess
    import sys

    code = "import sys, supervisor; print('coredis' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "False"
