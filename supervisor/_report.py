"""What ``Supervisor.health()`` reports: a snapshot read from the runtime's parts.

It only reads (the failure window and the restart window drop what has aged out
of them, which no reader can see). O(1) in every state, however many tasks wait,
hold a slot or run: a health endpoint polled under load must not slow down as
the load grows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._health import HealthReport, evaluate
from ._policy import Phase

if TYPE_CHECKING:
    from ._core import Core


def health_report(core: Core) -> HealthReport:
    now = core.clock()
    table = core.table
    oldest = table.oldest_waiting()
    oldest_pending_age = None if oldest is None else now - oldest._created_at
    oldest_attempt = next(iter(table.running_since.values()), None)
    longest_running_age = None if oldest_attempt is None else now - oldest_attempt
    recent_finished, recent_failed = table.window.totals(now)
    restarts = core.restarts
    counts = table.counts()
    status, reasons = evaluate(
        core.health_rules,
        waiting=table.n_queued,
        max_pending=table.max_pending,
        recent_finished=recent_finished,
        recent_failed=recent_failed,
        oldest_pending_age=oldest_pending_age,
    )
    return HealthReport(
        status=status,
        reasons=reasons,
        pending=counts["pending"],
        waiting=table.n_queued,
        running=counts["running"],
        restarting=counts["restarting"],
        completed=counts["completed"],
        failed=counts["failed"],
        cancelled=counts["cancelled"],
        submitted=table.next_id,
        max_concurrent=table.max_concurrent,
        max_pending=table.max_pending,
        restarts_in_period=restarts.count(now),
        restarts_remaining=restarts.remaining(now),
        oldest_pending_age=oldest_pending_age,
        longest_running_age=longest_running_age,
        recent_finished=recent_finished,
        recent_failed=recent_failed,
        last_failure=core.ledger.last_failure,
        uptime=now - core.opened_at,
        closed=core.phase is not Phase.OPEN,
        actors=tuple(
            ref.statistics()
            for ref in core.records.actors.values()
            if ref._ready and ref._handle is not None and ref._handle._sup is core
        ),
    )
