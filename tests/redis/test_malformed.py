"""Malformed data in a queue's keys (written by hand, by another version, by a
tool) never stops the queue: such an entry ends DEAD or is set aside with its
reason (logged by the worker that meets it), and the entries behind it are
fetched as usual."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

from supervisor.redis import (
    JobDead,
    JobMalformed,
    JobStatus,
    QueueStats,
    open_queue,
    open_worker,
)

from . import jobs
from .helpers import wait_until

if TYPE_CHECKING:
    from supervisor.redis import Queue

pytestmark = pytest.mark.anyio


async def _run_one_real_job(url: str, queue: str, q: Queue) -> None:
    """A real job enqueued behind the malformed data runs as usual."""
    h = await q.enqueue("add", 2, 3)
    async with open_worker(url, queue, jobs.registry):
        assert await h.result(timeout=10) == 5


async def test_a_stream_entry_without_a_job_id_is_set_aside(
    url: str, queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The fetch script used to fail on it ("attempt to concatenate local 'id' (a
    nil value)"), and the fetcher was restarted forever: no job behind it ran."""
    async with open_queue(url, queue) as q:
        entry = await q.client.xadd(q.keys.stream, {"foo": "bar"})
        assert entry is not None
        await _run_one_real_job(url, queue, q)
        aside = await q.malformed()
        assert len(aside) == 1
        assert aside[0].source == "stream"
        assert aside[0].key == q.keys.stream
        assert aside[0].reason.startswith(f"entry {entry.decode()}: no job id")
        assert aside[0].fields == {"foo": "bar"}
        assert await q.stats() == QueueStats(0, 0, 0, 0, 0, malformed=1)
    refused = [r for r in caplog.records if "set aside" in r.getMessage()]
    assert [r.levelno for r in refused] == [logging.ERROR]
    assert "no job id" in refused[0].getMessage()
    assert not [r for r in caplog.records if "restarting" in r.getMessage()]


@pytest.mark.parametrize(
    ("job_id", "reason"),
    [
        pytest.param("x" * 201, "no job id", id="too long"),
        pytest.param("a b", "no job id", id="a space"),
        pytest.param("é", "no job id", id="not ASCII"),
        pytest.param("gone", "no record of job gone", id="no record"),
    ],
)
async def test_a_stream_entry_with_a_bad_job_id_is_set_aside(
    url: str, queue: str, job_id: str, reason: str
) -> None:
    async with open_queue(url, queue) as q:
        await q.client.xadd(q.keys.stream, {"id": job_id})
        await _run_one_real_job(url, queue, q)
        (aside,) = await q.malformed()
        assert reason in aside.reason
        assert aside.fields == {"id": job_id}


async def test_entries_read_on_the_idle_path_are_checked_too(
    url: str, queue: str
) -> None:
    """A worker blocked on an empty stream reads new entries itself and hands them
    to the begin script: an entry without an id used to raise KeyError there."""
    async with open_queue(url, queue) as q:
        async with open_worker(url, queue, jobs.registry):
            await wait_until(lambda: _is_idle(q))
            await q.client.xadd(q.keys.stream, {"not": "a job"})
            h = await q.enqueue("add", 1, 1)
            assert await h.result(timeout=10) == 2
        (aside,) = await q.malformed()
        assert aside.fields == {"not": "a job"}
        assert "no job id" in aside.reason


async def _is_idle(q: Queue) -> bool:
    return (await q.stats()).workers == 1


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param({"status": "zzz"}, 'status="zzz"', id="unknown status"),
        pytest.param({"name": ""}, "no job name", id="no name"),
        pytest.param({"attempts": "many"}, "attempts is not a number", id="attempts"),
        pytest.param(
            {"deliveries": "x"}, "deliveries is not a number", id="deliveries"
        ),
    ],
)
async def test_a_job_record_of_the_wrong_kind_ends_dead_with_its_reason(
    url: str,
    queue: str,
    fields: dict[str, str],
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with open_queue(url, queue) as q:
        bad = await q.enqueue("add", 1, 2)
        await q.client.hset(q.keys.job(bad.id), fields)
        await _run_one_real_job(url, queue, q)
        assert await bad.status() is JobStatus.DEAD
        with pytest.raises(JobDead, match=reason):
            await bad.result(timeout=1)
        assert [i.id for i in await q.dead_letters()] == [bad.id]
    dead = [r for r in caplog.records if "is DEAD" in r.getMessage()]
    assert [(r.levelno, r.job_id) for r in dead] == [(logging.ERROR, bad.id)]  # type: ignore[attr-defined]


async def test_a_record_without_arguments_ends_dead(url: str, queue: str) -> None:
    async with open_queue(url, queue) as q:
        bad = await q.enqueue("add", 1, 2)
        await q.client.hdel(q.keys.job(bad.id), ["args"])
        await _run_one_real_job(url, queue, q)
        assert (await bad.info()).error == "its record has no arguments"


async def test_an_unreadable_history_is_kept_as_an_event(url: str, queue: str) -> None:
    """add_history used to fail on it (cjson.decode), so the job's failure could
    not be stored."""
    async with open_queue(url, queue) as q:
        bad = await q.enqueue("fail", "boom")
        await q.client.hset(q.keys.job(bad.id), {"history": "{not json"})
        async with open_worker(url, queue, jobs.registry):
            await wait_until(lambda: _status_is(bad, JobStatus.FAILED))
        history = (await bad.info()).history
        assert history[0] == {"event": "unreadable history", "raw": "{not json"}
        assert history[1]["event"] == "failed"


async def _status_is(h: object, status: JobStatus) -> bool:
    return await h.status() is status  # type: ignore[attr-defined]


async def test_a_delayed_member_without_a_job_is_set_aside(
    url: str, queue: str
) -> None:
    async with open_queue(url, queue) as q:
        await q.client.zadd(q.keys.delayed, {"nothing": 1, "bad id": 1})
        await _run_one_real_job(url, queue, q)
        reasons = sorted(a.reason for a in await q.malformed())
        assert reasons == [
            'member "bad id": not a job id',
            'member "nothing": its record is gone',
        ]
        assert (await q.stats()).delayed == 0


async def test_a_dedupe_key_pointing_at_no_job_is_replaced_and_reported(
    url: str, queue: str
) -> None:
    async with open_queue(url, queue) as q:
        await q.client.set(f"{q.keys.prefix}key:k", "gone")
        h = await q.enqueue("add", 1, 1, key="k")
        assert h.id != "gone"
        assert await q.enqueue("add", 1, 1, key="k") == h  # deduplicated from here
        (aside,) = await q.malformed()
        assert aside.source == "key"
        assert aside.fields == {"value": "gone"}


async def test_a_record_read_back_with_an_unknown_status_raises_job_malformed(
    url: str, queue: str
) -> None:
    async with open_queue(url, queue) as q:
        h = await q.enqueue("add", 1, 1, delay=3600)
        await q.client.hset(q.keys.job(h.id), {"status": "zzz"})
        for call in (h.status, h.info, h.result, h.cancel):
            with pytest.raises(JobMalformed, match="status is b'zzz'") as raised:
                await call()
            assert raised.value.job_id == h.id


async def test_a_stored_result_that_does_not_decode_raises_job_malformed(
    url: str, queue: str
) -> None:
    async with open_queue(url, queue) as q:
        h = await q.enqueue("add", 1, 1)
        async with open_worker(url, queue, jobs.registry):
            assert await h.result(timeout=10) == 2
        await q.client.hset(q.keys.job(h.id), {"result": b"\xff{"})
        with pytest.raises(JobMalformed, match="result does not decode"):
            await h.result()


async def test_malformed_dead_letters_and_heartbeats_are_skipped(
    url: str, queue: str
) -> None:
    """A dead-letter entry without a job behind it is not listed; a heartbeat
    that does not parse shows as unknown in top."""
    from supervisor.redis._top import look, render  # needs the console extra

    async with open_queue(url, queue) as q:
        await q.client.xadd(q.keys.dead, {"no": "id"})
        await q.client.xadd(q.keys.dead, {"id": "gone"})
        assert await q.dead_letters() == []
        await q.client.zadd(q.keys.workers, {"w\xff": 2**52})
        await q.client.hset(q.keys.worker("w\xff"), {"beat": "x", "concurrency": "y"})
        view = await look(q.client, queue)
        (worker,) = view.workers
        assert worker.concurrency == 0
        assert worker.beat_age != worker.beat_age  # NaN: unknown
        render([view], {})


async def test_a_garbage_cancel_message_is_ignored(url: str, queue: str) -> None:
    async with open_queue(url, queue) as q:
        async with open_worker(url, queue, jobs.registry):
            await q.client.publish(q.keys.cancel_channel, b"\xff\xfe")
            h = await q.enqueue("add", 1, 1)
            assert await h.result(timeout=10) == 2
