"""pytest plugin (registered through the ``pytest11`` entry point): fixtures for
testing supervised code on trio's mock clock.

Fixtures (for tests marked ``@pytest.mark.trio``; they need pytest-trio):

- ``supervisor_events``: an :class:`~supervisor.testing.EventRecorder`.
- ``supervised``: an open :class:`~supervisor.Supervisor` on the mock clock,
  recording into ``supervisor_events``. When the test ends the supervisor shuts down
  gracefully and the whole history is checked with
  :func:`~supervisor.testing.check_history`.

pytest-trio hands ``trio.run`` only the clocks that the test itself takes as
arguments, so a test using ``supervised`` also takes ``autojump_clock``::

    @pytest.mark.trio
    async def test_job(supervised, supervisor_events, autojump_clock):
        ...

``supervised`` refuses to run on a real clock, so no test sleeps real time by
mistake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio
import trio.testing

from ._clash import clash
from ._open import open_supervisor
from .testing import EventRecorder

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ._supervisor import Supervisor


def pytest_configure(config: pytest.Config) -> None:
    """Say so at once when ``supervisor`` is supervisord's, not ours."""
    problem = clash()
    if problem is not None:
        msg = f"trio-supervisor's pytest plugin: {problem}"
        raise pytest.UsageError(msg)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``supervised`` is an async fixture: without pytest-trio, pytest would only say
    "requested an async fixture ... with no plugin". Say what to install."""
    if "supervised" in getattr(item, "fixturenames", ()) and not (
        item.config.pluginmanager.hasplugin("trio")
    ):
        pytest.fail(
            "the supervised fixture needs pytest-trio: "
            "pip install 'trio-supervisor[test]' (and mark the test @pytest.mark.trio)",
            pytrace=False,
        )


@pytest.fixture
def supervisor_events() -> EventRecorder:
    """Records every TaskEvent of the ``supervised`` fixture."""
    return EventRecorder()


@pytest.fixture
async def supervised(supervisor_events: EventRecorder) -> AsyncIterator[Supervisor]:
    """An open supervisor on the mock clock; its history is checked at teardown."""
    if not isinstance(trio.lowlevel.current_clock(), trio.testing.MockClock):
        msg = (
            "the supervised fixture runs on trio's mock clock: add autojump_clock to "
            "the test's arguments (pytest-trio takes the clock from those only)"
        )
        raise RuntimeError(msg)  # noqa: TRY004 - misuse of the fixture, not a wrong argument type
    async with open_supervisor("test", on_event=supervisor_events) as sup:
        yield sup
    supervisor_events.check()
