"""Supervised background tasks for trio and anyio.

Every public name lives here; the modules behind them are private.
"""

from ._actor import (
    Actor as Actor,
    ActorRef as ActorRef,
    ActorStatistics as ActorStatistics,
)
from ._child_records import ChildInfo as ChildInfo
from ._errors import (
    ActorCrashed as ActorCrashed,
    ActorStopped as ActorStopped,
    ChildNotFound as ChildNotFound,
    ChildRunning as ChildRunning,
    MailboxFull as MailboxFull,
    QueueFull as QueueFull,
    RestartIntensityExceeded as RestartIntensityExceeded,
    SupervisorClosed as SupervisorClosed,
    SupervisorError as SupervisorError,
    TaskCancelled as TaskCancelled,
    TaskFailed as TaskFailed,
    TaskTimeout as TaskTimeout,
)
from ._events import EventSubscription as EventSubscription
from ._handle import TaskHandle as TaskHandle, current_handle as current_handle
from ._health import (
    Health as Health,
    HealthReport as HealthReport,
    HealthRules as HealthRules,
)
from ._open import open_supervisor as open_supervisor
from ._spec import (
    AutoShutdown as AutoShutdown,
    Backoff as Backoff,
    Restart as Restart,
    Strategy as Strategy,
)
from ._status import (
    Decision as Decision,
    TaskEvent as TaskEvent,
    TaskStatus as TaskStatus,
)
from ._supervisor import Supervisor as Supervisor
from ._util import fixup_module_metadata as _fixup_module_metadata
from ._version import __version__ as __version__

_fixup_module_metadata(__name__, globals())
del _fixup_module_metadata
