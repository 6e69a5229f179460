"""The queue's contract against a real local Redis Cluster (three masters, no
replicas): the same tests as against one server, collected here again with
``url`` naming a node of the cluster; and two queues on different masters side
by side. Every key of a queue shares one hash tag, so each script runs on the
one node that holds the queue's slot."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest

from supervisor.redis import open_queue, open_worker
from supervisor.redis._connection import queue_names

from . import jobs
from .test_malformed import (
    test_a_job_record_of_the_wrong_kind_ends_dead_with_its_reason as test_a_job_record_of_the_wrong_kind_ends_dead_with_its_reason,
    test_a_stream_entry_without_a_job_id_is_set_aside as test_a_stream_entry_without_a_job_id_is_set_aside,
)
from .test_operator_view import (
    test_a_killed_worker_shows_as_lost_until_its_jobs_are_reclaimed as test_a_killed_worker_shows_as_lost_until_its_jobs_are_reclaimed,
)
from .test_queue import (
    test_a_key_deduplicates_while_the_job_is_unfinished as test_a_key_deduplicates_while_the_job_is_unfinished,
    test_a_result_is_seen_from_another_process_connection as test_a_result_is_seen_from_another_process_connection,
    test_an_enqueued_job_is_queued_with_its_record as test_an_enqueued_job_is_queued_with_its_record,
    test_cancel_of_a_waiting_job_ends_it_at_once as test_cancel_of_a_waiting_job_ends_it_at_once,
    test_delay_schedules_the_job as test_delay_schedules_the_job,
    test_enqueue_many_adds_every_job as test_enqueue_many_adds_every_job,
)
from .test_worker import (
    test_a_job_runs_and_leaves_nothing_behind_but_its_result as test_a_job_runs_and_leaves_nothing_behind_but_its_result,
    test_a_job_whose_lease_expired_is_reclaimed as test_a_job_whose_lease_expired_is_reclaimed,
    test_a_worker_stopped_at_once_hands_its_jobs_back as test_a_worker_stopped_at_once_hands_its_jobs_back,
    test_an_unknown_job_ends_dead_and_can_be_requeued as test_an_unknown_job_ends_dead_and_can_be_requeued,
    test_cancel_of_a_running_job_cancels_it_promptly as test_cancel_of_a_running_job_cancels_it_promptly,
    test_every_key_of_a_queue_shares_its_hash_tag as test_every_key_of_a_queue_shares_its_hash_tag,
    test_failed_attempts_are_retried_then_the_job_fails as test_failed_attempts_are_retried_then_the_job_fails,
    test_workers_are_counted_while_alive_and_leave_cleanly as test_workers_are_counted_while_alive_and_leave_cleanly,
)
from .test_worker_processes import (
    test_a_second_signal_stops_at_once_and_loses_nothing as test_a_second_signal_stops_at_once_and_loses_nothing,
    test_jobs_of_a_killed_worker_are_reclaimed_within_lease_plus_1s as test_jobs_of_a_killed_worker_are_reclaimed_within_lease_plus_1s,
)

if TYPE_CHECKING:
    from .server import RedisCluster

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def url(redis_cluster: RedisCluster) -> str:
    """Overrides the one-server ``url`` for every test collected here."""
    return redis_cluster.url


def _queues_on_two_masters(cluster: RedisCluster) -> tuple[str, str]:
    first = f"q-{uuid.uuid4().hex[:12]}"
    while True:
        second = f"q-{uuid.uuid4().hex[:12]}"
        if cluster.master_of(f"sv:{{{first}}}:stream") != cluster.master_of(
            f"sv:{{{second}}}:stream"
        ):
            return first, second


async def test_two_queues_on_different_masters_work_side_by_side(
    redis_cluster: RedisCluster,
) -> None:
    url = redis_cluster.url
    a, b = _queues_on_two_masters(redis_cluster)
    async with open_queue(url, a) as qa, open_queue(url, b) as qb:
        ha = await qa.enqueue_many("add", [(i, 1) for i in range(20)])
        hb = await qb.enqueue_many("add", [(i, 2) for i in range(20)])
        async with (
            open_worker(url, a, jobs.registry),
            open_worker(url, b, jobs.registry),
        ):
            assert [await h.result(timeout=10) for h in ha] == [
                i + 1 for i in range(20)
            ]
            assert [await h.result(timeout=10) for h in hb] == [
                i + 2 for i in range(20)
            ]
        sa, sb = await qa.stats(), await qb.stats()
        assert (sa.ready, sa.in_flight, sb.ready, sb.in_flight) == (0, 0, 0, 0)
        # top finds both queues on their masters (a scan of every node)
        assert {a, b} <= set(await queue_names(qa.client))
