"""What a queue object and its job handles share: the connection and the queue's
names, scripts and codec."""

from __future__ import annotations

import attrs
import coredis

from ._codec import Codec
from ._keys import QueueKeys
from ._results import ResultWaiters
from ._scripts import Scripts


@attrs.frozen(eq=False)
class QueueLink:
    name: str
    client: coredis.Redis[bytes]
    keys: QueueKeys
    scripts: Scripts
    codec: Codec
    result_ttl_ms: int
    waiters: ResultWaiters
