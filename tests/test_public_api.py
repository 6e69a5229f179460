"""The public surface: pinned names, each claiming to live in ``supervisor``."""

from __future__ import annotations

import types

import supervisor

EXPECTED = [
    "Actor",
    "ActorCrashed",
    "ActorRef",
    "ActorStatistics",
    "ActorStopped",
    "AutoShutdown",
    "Backoff",
    "ChildInfo",
    "ChildNotFound",
    "ChildRunning",
    "Decision",
    "EventSubscription",
    "Health",
    "HealthReport",
    "HealthRules",
    "MailboxFull",
    "QueueFull",
    "Restart",
    "RestartIntensityExceeded",
    "Strategy",
    "Supervisor",
    "SupervisorClosed",
    "SupervisorError",
    "TaskCancelled",
    "TaskEvent",
    "TaskFailed",
    "TaskHandle",
    "TaskStatus",
    "TaskTimeout",
    "current_handle",
    "open_supervisor",
]


def test_public_names_are_pinned() -> None:
    public = sorted(
        n
        for n in dir(supervisor)
        if not n.startswith("_")
        and not isinstance(getattr(supervisor, n), types.ModuleType)
    )
    assert public == EXPECTED


def test_testing_module_names_are_pinned() -> None:
    import supervisor.testing

    assert sorted(supervisor.testing.__all__) == [
        "EventRecorder",
        "HistoryError",
        "TaskSpec",
        "check_history",
        "hypothesis_scheduling",
        "run_spec",
        "shutdown_modes",
        "task_specs",
    ]


def test_every_public_name_claims_the_package() -> None:
    for name in EXPECTED:
        obj = getattr(supervisor, name)
        assert obj.__module__ == "supervisor", name
        assert getattr(obj, "__qualname__", name) == name


def test_error_hierarchy() -> None:
    for name in (
        "SupervisorClosed",
        "QueueFull",
        "TaskFailed",
        "TaskCancelled",
        "RestartIntensityExceeded",
    ):
        assert issubclass(getattr(supervisor, name), supervisor.SupervisorError)
    assert issubclass(supervisor.SupervisorError, Exception)
    assert issubclass(supervisor.TaskTimeout, TimeoutError)


def test_package_ships_type_information() -> None:
    from importlib.resources import files

    assert files("supervisor").joinpath("py.typed").is_file()


def test_methods_keep_their_defining_module() -> None:
    # Only classes claim the package: tools that find functions by their module
    # (mutmut's record of which tests reach which method) must see the real one.
    assert supervisor.TaskHandle.cancel.__module__ == "supervisor._handle"
    assert supervisor.Supervisor.submit.__module__ == "supervisor._supervisor"
    assert supervisor.ActorRef.call.__module__ == "supervisor._actor"


def test_enum_values_are_the_lowercase_names() -> None:
    # The values are what serialized events, logs and metric labels carry.
    for enum in (
        supervisor.TaskStatus,
        supervisor.Decision,
        supervisor.Restart,
        supervisor.Strategy,
        supervisor.Health,
    ):
        assert {m.value for m in enum} == {m.name.lower() for m in enum}, enum
