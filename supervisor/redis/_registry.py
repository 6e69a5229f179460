"""The jobs a worker can run, by name, with their timeout and retry policy."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast, final, overload

import attrs

from .._arguments import check_async_fn
from .._checks import check_count, check_seconds, check_type
from .._spec import Backoff

FnT = TypeVar("FnT", bound=Callable[..., Awaitable[Any]])


@attrs.frozen
class JobDefinition:
    """One registered job: the async function and how its attempts are run."""

    name: str
    fn: Callable[..., Awaitable[Any]]
    #: Seconds one attempt may run; on expiry the attempt fails (``TaskTimeout``).
    timeout: float | None
    #: Attempts in all (1: never retried).
    max_attempts: int
    #: The delay before each retry; None retries at once.
    backoff: Backoff | None


def check_job_name(name: object) -> None:
    if not isinstance(name, str):
        msg = f"job name must be a str, got {name!r}"
        raise TypeError(msg)
    if not name or len(name) > 200:
        msg = f"job name must be 1 to 200 characters, got {name!r}"
        raise ValueError(msg)


@final
class JobRegistry:
    """The jobs a worker runs, by name. Every worker of a queue should hold the
    same registry: a job whose name a worker does not know ends DEAD.

    ::

        registry = JobRegistry()

        @registry.job(timeout=30, max_attempts=5, backoff=Backoff(initial=1))
        async def send_email(to: str, body: str) -> dict: ...
    """

    __slots__ = ("_jobs",)

    def __init__(self) -> None:
        self._jobs: dict[str, JobDefinition] = {}

    @overload
    def job(self, fn: FnT, /) -> FnT: ...

    @overload
    def job(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        timeout: float | None = None,
        max_attempts: int = 1,
        backoff: Backoff | None = None,
    ) -> Callable[[FnT], FnT]: ...

    def job(
        self,
        fn: FnT | None = None,
        /,
        *,
        name: str | None = None,
        timeout: float | None = None,
        max_attempts: int = 1,
        backoff: Backoff | None = None,
    ) -> FnT | Callable[[FnT], FnT]:
        """Register an async function as a job (as ``@registry.job`` or
        ``@registry.job(name=..., ...)``). The name defaults to the function's
        ``__name__``; the function is returned unchanged."""
        check_seconds("timeout", timeout, zero_ok=False)
        check_count("max_attempts", max_attempts, 1)
        if cast("object", max_attempts) is None:
            msg = "max_attempts must be an int >= 1, got None"
            raise TypeError(msg)
        check_type("backoff", backoff, Backoff, "a Backoff or None")
        if name is not None:
            check_job_name(name)

        def register(fn: FnT) -> FnT:
            check_async_fn(fn, "registry.job")
            job_name = name if name is not None else getattr(fn, "__name__", None)
            check_job_name(job_name)
            assert isinstance(job_name, str)
            if job_name in self._jobs:
                msg = f"a job named {job_name!r} is already registered"
                raise ValueError(msg)
            self._jobs[job_name] = JobDefinition(
                job_name, fn, timeout, max_attempts, backoff
            )
            # So that enqueue(fn) finds the registered name, also a custom one.
            with contextlib.suppress(AttributeError, TypeError):
                fn.__supervisor_job__ = job_name  # type: ignore[attr-defined]
            return fn

        return register if fn is None else register(fn)

    def get(self, name: str) -> JobDefinition | None:
        return self._jobs.get(name)

    def names(self) -> list[str]:
        return sorted(self._jobs)

    def __contains__(self, name: object) -> bool:
        return name in self._jobs

    def __len__(self) -> int:
        return len(self._jobs)

    def __repr__(self) -> str:
        return f"<JobRegistry {self.names()}>"
