"""A property: random malformed data written into every key of a live queue,
while real jobs flow through real worker processes, changes nothing for the
real jobs, and each malformed entry is accounted for.

Each run (Hypothesis example) enqueues real jobs and, between them, writes
malformed data of every kind: stream entries with missing or foreign fields,
entries pointing at records of the wrong kind, delayed members and dedupe keys
that point at nothing, garbage in the dead-letter stream, heartbeats and the
cancel channel. Then, once every real job ended:

- every real job SUCCEEDED with its right result (none lost, none wrong);
- every malformed stream entry, delayed member and dedupe key was set aside
  with its reason (``q.malformed()``), and every malformed record that a stream
  entry points at ended DEAD with its reason;
- the stream, its pending list and the delayed set are empty;
- ``q.stats()``, ``q.dead_letters()`` and ``top``'s view still read the queue.

After all runs, both workers still live, and their logs hold no traceback and
no restart of a worker part (no crash loop).

``SUPERVISOR_MALFORMED_RUNS`` sets the number of runs (default 50);
``SUPERVISOR_CHAOS_REPORT=<file>`` appends the totals to a file.
"""

from __future__ import annotations

import json
import os
import uuid
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from supervisor.redis import JobMalformed, JobStatus, open_queue

from .fleet import Fleet
from .helpers import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from supervisor.redis import Queue

    from .server import RedisServer

pytestmark = pytest.mark.slow

RUNS = int(os.environ.get("SUPERVISOR_MALFORMED_RUNS", "50"))
#: The longest one run may take to settle (real seconds).
RUN_BOUND = 30.0

#: Field names and values as another writer might use them.
_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=12
)
_bytes = st.binary(max_size=12)
_value = st.one_of(_text, _bytes, st.integers().map(str))
_foreign_fields = st.dictionaries(
    st.one_of(_text.filter(lambda t: t not in ("", "id")), st.just("ID")),
    _value,
    min_size=1,
    max_size=4,
)
_STATUSES = frozenset({"queued", "delayed", "running", "retrying", "succeeded",
                       "failed", "dead", "cancelled"})  # fmt: skip
#: A record a stream entry points at, with at least one field broken.
_BROKEN = {
    "status": st.one_of(st.none(), _text.filter(lambda t: t not in _STATUSES)),
    "name": st.one_of(st.none(), st.just("")),
    "args": st.none(),
    "attempts": st.one_of(st.none(), _text.filter(lambda t: not _is_number(t))),
    "deliveries": st.one_of(st.none(), _text.filter(lambda t: not _is_number(t))),
}


def _is_number(t: str) -> bool:
    try:
        float(t)
    except ValueError:
        return False
    return True


@st.composite
def _broken_record(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {
        "status": draw(st.sampled_from(["queued", "running", "delayed", "retrying"])),
        "name": draw(st.sampled_from(["add", "noop", "nosuch"])),
        "args": draw(st.sampled_from(["[1,2]", "[]", "{bad"])),
        "attempts": draw(st.sampled_from(["0", "2"])),
        "deliveries": "0",
        "created": "1",
    }
    for field in draw(st.sets(st.sampled_from(sorted(_BROKEN)), min_size=1)):
        record[field] = draw(_BROKEN[field])
    if draw(st.booleans()):
        record["history"] = draw(_value)
    return {k: v for k, v in record.items() if v is not None}


malformed = st.one_of(
    st.tuples(st.just("entry"), _foreign_fields),
    st.tuples(st.just("bad id"), st.one_of(_text, _bytes)),
    st.tuples(st.just("record"), _broken_record()),
    st.tuples(st.just("delayed"), st.one_of(_text, _bytes)),
    st.tuples(st.just("key"), _text),
    st.tuples(st.just("dead"), _foreign_fields),
    st.tuples(st.just("heartbeat"), _foreign_fields),
    st.tuples(st.just("cancel"), st.one_of(_text, _bytes)),
)
plans = st.lists(
    st.one_of(st.tuples(st.just("job"), st.integers(-1000, 1000)), malformed),
    min_size=4,
    max_size=30,
).filter(lambda plan: any(kind == "job" for kind, _ in plan))

TOTALS: dict[str, int] = {}


@pytest.fixture(scope="module")
def fleet(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Fleet, list[Path]]]:
    logs = tmp_path_factory.mktemp("malformed-logs")
    with Fleet(redis_server.url, f"q-{uuid.uuid4().hex[:12]}") as fleet:
        paths = [logs / f"worker-{i}.log" for i in range(2)]
        for path in paths:
            fleet.start(concurrency=4, lease=1.0, log=path)
        yield fleet, paths
        # After every run: both workers live, and no part of theirs crash-looped.
        assert len(fleet.live()) == 2
        for path in paths:
            text = path.read_text()
            assert "Traceback" not in text, text
            assert "restarting" not in text, text
    report = os.environ.get("SUPERVISOR_CHAOS_REPORT")
    if report:
        with open(report, "a") as f:
            f.write(json.dumps({"malformed-property": TOTALS}) + "\n")


@settings(
    max_examples=RUNS,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans)
def test_malformed_data_changes_nothing_for_real_jobs(
    fleet: tuple[Fleet, list[Path]], plan: list[tuple[str, Any]]
) -> None:
    workers, _ = fleet
    anyio.run(_one_run, workers.url, workers.queue, plan, backend="trio")


async def _one_run(url: str, queue: str, plan: list[tuple[str, Any]]) -> None:
    async with open_queue(url, queue) as q:
        before = (await q.stats()).malformed
        real: list[tuple[Any, int]] = []
        expect_aside: list[tuple[str, str]] = []  # (source, a text the reason holds)
        expect_dead: list[str] = []
        members: set[bytes] = set()
        for kind, value in plan:
            _count(kind)
            if kind == "job":
                real.append((await q.enqueue("add", value, 1), value + 1))
            elif kind in ("entry", "bad id"):
                fields = value if kind == "entry" else {"id": value or b"\xff"}
                entry = await q.client.xadd(q.keys.stream, fields)
                assert entry is not None
                expect_aside.append(("stream", f"entry {entry.decode()}:"))
            elif kind == "record":
                job_id = f"bad-{uuid.uuid4().hex}"
                await q.client.hset(q.keys.job(job_id), value)
                await q.client.xadd(q.keys.stream, {"id": job_id})
                expect_dead.append(job_id)
            elif kind == "delayed":
                member = value or "x"
                raw = member.encode() if isinstance(member, str) else member
                if raw not in members:  # (a sorted set holds a member once)
                    members.add(raw)
                    expect_aside.append(("delayed", "member "))
                await q.client.zadd(q.keys.delayed, {member: 1})
            elif kind == "key":
                key = f"k-{uuid.uuid4().hex}"
                await q.client.set(f"{q.keys.prefix}key:{key}", f"nojob-{value}")
                real.append((await q.enqueue("add", 7, 1, key=key), 8))
                expect_aside.append(("key", f"dedupe key {json.dumps(key)}"))
            elif kind == "dead":
                await q.client.xadd(q.keys.dead, value)
            elif kind == "heartbeat":
                name = f"w-{uuid.uuid4().hex[:6]}"
                await q.client.hset(q.keys.worker(name), value)
                await q.client.zadd(q.keys.workers, {name: 1})  # long expired
            else:
                await q.client.publish(q.keys.cancel_channel, value or b"\xff")
        with anyio.fail_after(RUN_BOUND):
            for handle, result in real:
                assert await handle.result() == result
            for job_id in expect_dead:
                await wait_until(partial(_is_dead, q, job_id))
            await wait_until(lambda: _settled(q))
        for job_id in expect_dead:
            info = await q.job(job_id).info()
            assert info.error, job_id  # the reason
        new = (await q.stats()).malformed - before
        aside = [(a.source, a.reason) for a in await q.malformed(new)] if new else []
        for source, reason in expect_aside:
            matches = [r for s, r in aside if s == source and reason in r]
            assert matches, (source, reason, aside)
        assert len(aside) == len(expect_aside), (aside, expect_aside)
        _count("found set aside", len(aside))
        _count("found DEAD", len(expect_dead))
        await q.dead_letters(1000)
        await _top_reads(q, queue)


async def _is_dead(q: Queue, job_id: str) -> bool:
    try:
        return await q.job(job_id).status() is JobStatus.DEAD
    except JobMalformed:  # (no status of ours until a worker sets it DEAD)
        return False


async def _settled(q: Queue) -> bool:
    stats = await q.stats()
    return stats.ready == stats.in_flight == stats.delayed == 0


async def _top_reads(q: Queue, queue: str) -> None:
    from supervisor.redis._top import look, render

    render([await look(q.client, queue)], {})


def _count(kind: str, n: int = 1) -> None:
    TOTALS[kind] = TOTALS.get(kind, 0) + n
