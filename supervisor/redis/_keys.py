"""The names of a queue's Redis keys. Every key of a queue starts with
``sv:{<queue>}:``: one hash tag, so one cluster slot, per queue."""

from __future__ import annotations

import re
from typing import Final

import attrs

#: The consumer group every worker of a queue reads through.
GROUP: Final = "workers"

_QUEUE_NAME = re.compile(r"[^{}\s]{1,200}")


def check_queue_name(queue: object) -> None:
    if not isinstance(queue, str):
        msg = f"queue must be a str, got {queue!r}"
        raise TypeError(msg)
    if not _QUEUE_NAME.fullmatch(queue):
        msg = (
            f"queue must be 1 to 200 characters without braces or whitespace, "
            f"got {queue!r}"
        )
        raise ValueError(msg)


@attrs.frozen
class QueueKeys:
    """Key names of one queue (the Lua scripts build the same names from
    ``prefix``)."""

    queue: str
    prefix: str = attrs.field(init=False)
    stream: str = attrs.field(init=False)
    delayed: str = attrs.field(init=False)
    dead: str = attrs.field(init=False)
    malformed: str = attrs.field(init=False)
    workers: str = attrs.field(init=False)
    cancel_channel: str = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        prefix = f"sv:{{{self.queue}}}:"
        for name, value in (
            ("prefix", prefix),
            ("stream", prefix + "stream"),
            ("delayed", prefix + "delayed"),
            ("dead", prefix + "dead"),
            ("malformed", prefix + "malformed"),
            ("workers", prefix + "workers"),
            ("cancel_channel", prefix + "cancel"),
        ):
            object.__setattr__(self, name, value)

    def job(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def done_channel(self, job_id: str) -> str:
        return f"{self.prefix}done:{job_id}"

    def worker(self, consumer: str) -> str:
        return f"{self.prefix}worker:{consumer}"
