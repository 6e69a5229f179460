"""Distributed jobs over Redis Streams (``pip install 'trio-supervisor[redis]'``).

Every public name lives here; the modules behind them are private.
"""

from .._errors import (
    JobCancelled as JobCancelled,
    JobDead as JobDead,
    JobFailed as JobFailed,
    JobMalformed as JobMalformed,
    JobNotFound as JobNotFound,
    RedisUnavailable as RedisUnavailable,
)
from .._spec import Backoff as Backoff
from .._util import fixup_module_metadata as _fixup_module_metadata
from ._codec import Codec as Codec, JsonCodec as JsonCodec, MsgspecCodec as MsgspecCodec
from ._job_handle import JobHandle as JobHandle
from ._queue import Queue as Queue, open_queue as open_queue
from ._records import (
    JobInfo as JobInfo,
    JobStatus as JobStatus,
    MalformedEntry as MalformedEntry,
    QueueStats as QueueStats,
)
from ._registry import JobDefinition as JobDefinition, JobRegistry as JobRegistry
from ._worker import (
    Worker as Worker,
    WorkerStatistics as WorkerStatistics,
    open_worker as open_worker,
)

_fixup_module_metadata(__name__, globals())
del _fixup_module_metadata
