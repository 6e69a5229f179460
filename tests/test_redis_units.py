"""The pure parts of ``supervisor.redis`` (no server): queue names and keys,
codecs, the records read back from Redis (read as untrusted), URLs and their
redaction, the command line's option types and error handling. They are here,
not in tests/redis, so that the mutation run (which leaves that suite out)
checks these modules with them."""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
from datetime import UTC, datetime

import pytest

pytest.importorskip("coredis")

from supervisor.redis import (
    JobInfo,
    JobMalformed,
    JobStatus,
    JsonCodec,
    MalformedEntry,
    QueueStats,
    RedisUnavailable,
)
from supervisor.redis._cli_options import (
    DEFAULT_URL,
    EXIT_ERROR,
    add_connection_options,
    configure_logging,
    fail,
    positive_int,
    positive_seconds,
    run_command,
    seconds_or_forever,
)
from supervisor.redis._codec import check_codec, encode_arguments
from supervisor.redis._keys import GROUP, QueueKeys, check_queue_name
from supervisor.redis._records import int_or_none, queue_stats, status_of, text
from supervisor.redis._urls import check_url, redact


def _id(value: object) -> str:
    """A test id of plain characters (mutmut passes ids on a command line)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", repr(value)).strip("-")[:40] or "empty"


# -- queue names and keys ---------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "q-1", "x" * 200, "é.:/"], ids=_id)
def test_a_queue_name_of_1_to_200_characters_is_accepted(name: str) -> None:
    check_queue_name(name)


@pytest.mark.parametrize("name", ["", "x" * 201, "a b", "a{b", "a}b", "a\tb"], ids=_id)
def test_a_queue_name_with_braces_whitespace_or_the_wrong_length_is_refused(
    name: str,
) -> None:
    with pytest.raises(ValueError, match=r"^queue must be 1 to 200 characters"):
        check_queue_name(name)


def test_a_queue_name_must_be_a_str() -> None:
    with pytest.raises(TypeError, match=r"^queue must be a str, got 1$"):
        check_queue_name(1)


def test_every_key_of_a_queue_has_its_hash_tag() -> None:
    keys = QueueKeys("emails")
    assert (keys.prefix, keys.stream, keys.delayed, keys.dead) == (
        "sv:{emails}:", "sv:{emails}:stream", "sv:{emails}:delayed", "sv:{emails}:dead"
    )  # fmt: skip
    assert (keys.malformed, keys.workers, keys.cancel_channel) == (
        "sv:{emails}:malformed", "sv:{emails}:workers", "sv:{emails}:cancel"
    )  # fmt: skip
    assert keys.job("j1") == "sv:{emails}:job:j1"
    assert keys.done_channel("j1") == "sv:{emails}:done:j1"
    assert keys.worker("w1") == "sv:{emails}:worker:w1"
    assert keys == QueueKeys("emails")
    # The consumer group's name is stored in Redis with the stream: a queue made
    # by one version must be read by the next.
    assert GROUP == "workers"


@pytest.mark.parametrize(
    "field",
    ["prefix", "stream", "delayed", "dead", "malformed", "workers", "cancel_channel"],
)
def test_a_queue_s_key_names_follow_from_its_name_only(field: str) -> None:
    with pytest.raises(TypeError, match=field):
        QueueKeys("emails", **{field: "sv:{other}:"})


# -- codecs -----------------------------------------------------------------------


def test_json_is_compact_utf8_and_refuses_nan() -> None:
    codec = JsonCodec()
    assert codec.encode({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
    assert codec.decode(b'{"a":[1,"\\u00e9"]}') == {"a": [1, "é"]}
    with pytest.raises(ValueError, match="Out of range float"):
        codec.encode(math.nan)
    assert repr(codec) == "JsonCodec()"


def test_msgspec_gives_the_same_bytes_and_one_error_class() -> None:
    msgspec = pytest.importorskip("msgspec")
    from supervisor.redis import MsgspecCodec

    codec = MsgspecCodec()
    value = {"a": [1, "é", None, True]}
    assert codec.encode(value) == JsonCodec().encode(value)
    assert codec.decode(codec.encode(value)) == value
    with pytest.raises(ValueError, match="JSON") as raised:
        codec.decode(b"{not json")
    assert isinstance(raised.value.__cause__, msgspec.DecodeError)
    assert repr(codec) == "MsgspecCodec()"


def test_msgspec_missing_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from supervisor.redis import MsgspecCodec

    monkeypatch.setitem(sys.modules, "msgspec", None)  # import msgspec fails
    with pytest.raises(ImportError) as raised:
        MsgspecCodec()
    assert str(raised.value) == "MsgspecCodec needs msgspec: pip install msgspec"
    assert isinstance(raised.value.__cause__, ImportError)


def test_a_codec_needs_encode_and_decode() -> None:
    check_codec(JsonCodec())
    with pytest.raises(TypeError, match=r"^codec must have encode\(\) and decode"):
        check_codec(object())


def test_arguments_are_encoded_as_one_list() -> None:
    assert encode_arguments(JsonCodec(), "j", (1, "a")) == b'[1,"a"]'
    assert encode_arguments(JsonCodec(), "j", ()) == b"[]"


def test_an_argument_that_cannot_be_encoded_is_named() -> None:
    with pytest.raises(TypeError) as raised:
        encode_arguments(JsonCodec(), "send", (1, {2}, object()))
    message = str(raised.value)
    assert message.startswith(
        "argument 1 of job 'send' (set) cannot be encoded by JsonCodec(): "
    )
    assert isinstance(raised.value.__cause__, TypeError)


def test_a_list_that_fails_though_each_argument_encodes_reraises_its_error() -> None:
    class OnlyAlone:
        def encode(self, value: object) -> bytes:
            if isinstance(value, list):
                msg = "no lists"
                raise ValueError(msg)
            return b"x"

        def decode(self, data: bytes) -> object:
            return data

    with pytest.raises(ValueError, match=r"^no lists$"):
        encode_arguments(OnlyAlone(), "j", (1, 2))


# -- records read back from Redis -------------------------------------------------


def test_statuses_and_which_are_terminal() -> None:
    terminal = {s for s in JobStatus if s.is_terminal}
    assert terminal == {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.DEAD,
                        JobStatus.CANCELLED}  # fmt: skip
    for status in JobStatus:
        assert status_of(status.value.encode()) is status
    assert status_of(b"zzz") is None
    assert status_of(b"QUEUED") is None


def test_text_never_fails() -> None:
    assert text(b"caf\xc3\xa9") == "café"
    assert text(b"a\xffb") == "a\ufffdb"
    assert text("as is") == "as is"


@pytest.mark.parametrize(
    ("raw", "value"),
    [(None, None), (b"12", 12), (b"-3", -3), (b"x", None), (b"", None)],
    ids=_id,
)
def test_int_or_none(raw: bytes | None, value: int | None) -> None:
    assert int_or_none(raw) == value


FULL = {
    b"status": b"failed",
    b"name": b"send",
    b"attempts": b"3",
    b"deliveries": b"1",
    b"created": b"1000",
    b"started": b"2000",
    b"finished": b"3500",
    b"error": b"ValueError: boom",
    b"traceback": b"Traceback ...",
    b"history": b'[{"event": "failed", "at": 2500}]',
}


def _ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def test_a_full_record_reads_back() -> None:
    info = JobInfo.from_fields("j1", dict(FULL))
    assert info == JobInfo(
        id="j1",
        name="send",
        status=JobStatus.FAILED,
        attempts=3,
        deliveries=1,
        created_at=_ms(1000),
        started_at=_ms(2000),
        finished_at=_ms(3500),
        error="ValueError: boom",
        traceback="Traceback ...",
        history=({"event": "failed", "at": 2500},),
    )


def test_a_record_with_fields_of_the_wrong_kind_reads_them_as_missing() -> None:
    info = JobInfo.from_fields(
        "j1",
        {
            b"status": b"dead",
            b"attempts": b"many",
            b"deliveries": b"",
            b"created": b"soon",
            b"started": b"99999999999999999999999",
            b"error": b"",
            b"traceback": b"",
            b"history": b"{not json",
        },
    )
    assert (info.name, info.attempts, info.deliveries) == ("", 0, 0)
    assert info.created_at == datetime.fromtimestamp(0, UTC)
    assert (info.started_at, info.finished_at) == (None, None)
    assert (info.error, info.traceback) == (None, None)
    assert info.history == ({"event": "unreadable history", "raw": "{not json"},)


@pytest.mark.parametrize(
    "history", [b"{}", b"[1, 2]", b'[{"a": 1}, "x"]', b'"text"'], ids=repr
)
def test_a_history_that_is_not_a_list_of_events_is_kept_as_one(history: bytes) -> None:
    info = JobInfo.from_fields("j1", {**FULL, b"history": history})
    assert info.history == ({"event": "unreadable history", "raw": history.decode()},)


def test_a_record_without_history_has_none() -> None:
    fields = dict(FULL)
    del fields[b"history"]
    assert JobInfo.from_fields("j1", fields).history == ()
    assert JobInfo.from_fields("j1", {**FULL, b"history": b""}).history == ()


@pytest.mark.parametrize("status", [None, b"zzz", b""], ids=_id)
def test_a_record_without_a_job_status_is_malformed(status: bytes | None) -> None:
    fields = dict(FULL)
    if status is None:
        del fields[b"status"]
    else:
        fields[b"status"] = status
    with pytest.raises(JobMalformed) as raised:
        JobInfo.from_fields("j1", fields)
    assert raised.value.job_id == "j1"
    assert str(raised.value) == (
        f"job j1 has a malformed record: status is {fields.get(b'status')!r}"
    )
    assert isinstance(raised.value, ValueError)


def test_a_set_aside_entry_reads_back() -> None:
    entry = MalformedEntry.from_entry(
        b"1500-0",
        {
            b"source": b"stream",
            b"key": b"sv:{q}:stream",
            b"reason": b"entry 1-0: no job id",
            b"raw": json.dumps({"foo": "b\xe9"}).encode(),
        },
    )
    assert entry == MalformedEntry(
        at=_ms(1500),
        source="stream",
        key="sv:{q}:stream",
        reason="entry 1-0: no job id",
        fields={"foo": "b\xe9"},
    )


@pytest.mark.parametrize("raw", [None, b"[1]", b"{bad", b"\xff"], ids=_id)
def test_a_set_aside_entry_whose_raw_fields_do_not_read_has_none(
    raw: bytes | None,
) -> None:
    entry = MalformedEntry.from_entry("x-0", {} if raw is None else {b"raw": raw})
    assert entry.fields == {}
    assert (entry.source, entry.key, entry.reason) == ("?", "?", "?")
    assert entry.at == datetime.fromtimestamp(0, UTC)


def test_queue_stats_from_the_scripts_reply() -> None:
    assert queue_stats([1, 2, 3, 4, 5, 6, 7]) == QueueStats(
        ready=1, in_flight=2, delayed=3, dead=4, workers=5, malformed=6, lost=7
    )


# -- URLs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://user:pw@h:1/0", "redis://user:***@h:1/0"),
        ("redis://:pw@h/0", "redis://:***@h/0"),
        (
            "rediss://pw@h/0?ssl_ca_certs=/ca.pem",
            "rediss://***@h/0?ssl_ca_certs=/ca.pem",
        ),
        ("redis://h/0?password=pw&db=1&flag", "redis://h/0?password=***&db=1&flag"),
        ("redis://h/0?PASSWORD=pw", "redis://h/0?PASSWORD=***"),
        ("unix:///run/redis.sock?db=2", "unix:///run/redis.sock?db=2"),
        ("redis://u:p@ss@h/0", "redis://u:***@h/0"),
        ("redis://u:p:w@h/0", "redis://u:***@h/0"),
        ("unix://pw@/run/redis.sock", "unix://***@/run/redis.sock"),
    ],
    ids=_id,
)
def test_a_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_a_url_must_be_a_str_and_its_value_is_not_echoed() -> None:
    with pytest.raises(TypeError, match=r"^url must be a str such as .*, got bytes$"):
        check_url(b"redis://:pw@h")


@pytest.mark.parametrize("url", ["redis://h", "rediss://h", "unix:///s"], ids=_id)
def test_the_three_schemes_are_accepted(url: str) -> None:
    check_url(url)


def test_a_url_of_another_scheme_is_refused_without_its_password() -> None:
    with pytest.raises(ValueError, match="url must start with") as raised:
        check_url("http://u:pw@h/0")
    assert str(raised.value) == (
        "url must start with redis://, rediss:// or unix://, got 'http://u:***@h/0'"
    )


# -- the command line -------------------------------------------------------------


@pytest.mark.parametrize(
    ("arg", "value"),
    [("forever", None), ("0", 0.0), ("1.5", 1.5), ("30", 30.0)],
    ids=_id,
)
def test_seconds_or_forever(arg: str, value: float | None) -> None:
    assert seconds_or_forever(arg) == value


@pytest.mark.parametrize("arg", ["-1", "nan", "inf", "soon", ""], ids=_id)
def test_seconds_or_forever_refuses(arg: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as raised:
        seconds_or_forever(arg)
    assert str(raised.value) == f"expected seconds >= 0 or 'forever', got {arg!r}"


@pytest.mark.parametrize(("arg", "value"), [("1", 1), ("32", 32)], ids=_id)
def test_positive_int(arg: str, value: int) -> None:
    assert positive_int(arg) == value


@pytest.mark.parametrize("arg", ["0", "-2", "1.5", "x"], ids=_id)
def test_positive_int_refuses(arg: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as raised:
        positive_int(arg)
    assert str(raised.value) == f"expected a whole number >= 1, got {arg!r}"


def test_positive_seconds() -> None:
    assert positive_seconds("0.5") == 0.5
    for arg in ("0", "forever", "-1", "x"):
        with pytest.raises(argparse.ArgumentTypeError) as raised:
            positive_seconds(arg)
        assert str(raised.value) == f"expected seconds > 0, got {arg!r}"


def _parse(
    args: list[str], *, wait: str = "0", level: str = "INFO"
) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_connection_options(parser, wait=wait, log_level=level)
    return parser.parse_args(args)


def test_connection_options_and_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPERVISOR_REDIS_URL", raising=False)
    args = _parse([], wait="forever", level="WARNING")
    assert (args.url, args.wait_for_redis, args.log_level) == (
        DEFAULT_URL,
        None,
        "WARNING",
    )
    args = _parse(
        ["--url", "redis://h", "--wait-for-redis", "2", "--log-level", "DEBUG"]
    )
    assert (args.url, args.wait_for_redis, args.log_level) == (
        "redis://h",
        2.0,
        "DEBUG",
    )
    assert _parse([], wait="0").wait_for_redis == 0.0


def test_connection_options_explain_themselves() -> None:
    parser = argparse.ArgumentParser()
    add_connection_options(parser, wait="forever", log_level="WARNING")
    text = " ".join(parser.format_help().split())
    assert (
        "--wait-for-redis SECONDS how long to wait for a Redis that is not up yet, "
        "retrying with backoff: seconds or 'forever' (default: forever)"
    ) in text
    assert (
        "--log-level {DEBUG,INFO,WARNING,ERROR} the least severe log lines shown on "
        "stderr (default: WARNING)"
    ) in text
    with pytest.raises(SystemExit):
        parser.parse_args(["--log-level", "LOUD"])


def test_the_url_comes_from_the_environment_and_help_hides_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUPERVISOR_REDIS_URL", "redis://:pw@h/0")
    parser = argparse.ArgumentParser()
    add_connection_options(parser, wait="0", log_level="INFO")
    assert parser.parse_args([]).url == "redis://:pw@h/0"
    text = parser.format_help()
    assert "pw" not in text.replace("password", "")
    assert "redis://:***@h/0" in " ".join(text.split())


@pytest.mark.parametrize(
    ("level", "coredis"), [("DEBUG", "WARNING"), ("ERROR", "ERROR")], ids=_id
)
def test_logging_is_configured_at_the_level_given(level: str, coredis: str) -> None:
    root = logging.getLogger()
    saved = root.level, root.handlers[:]
    root.handlers = []
    try:
        configure_logging(level)
        assert logging.getLevelName(root.level) == level
        [handler] = root.handlers
        assert handler.formatter is not None
        assert (
            handler.formatter._fmt == "%(asctime)s %(name)s %(levelname)s %(message)s"
        )
        assert logging.getLevelName(logging.getLogger("coredis").level) == coredis
    finally:
        root.setLevel(saved[0])
        root.handlers = saved[1]


def test_a_command_returns_its_code() -> None:
    assert run_command("prog", lambda: 3) == 3


def _raise(exc: BaseException) -> int:
    raise exc


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            RedisUnavailable("redis://h", "refused"),
            "prog: error: cannot reach Redis at redis://h: refused (is it running? "
            "--wait-for-redis waits for it)",
        ),
        (ValueError("bad value"), "prog: error: bad value"),
        (TypeError("bad type"), "prog: error: bad type"),
        (OSError("no such file"), "prog: error: no such file"),
        (
            BaseExceptionGroup("g", [ExceptionGroup("h", [ValueError("inner")])]),
            "prog: error: inner",
        ),
    ],
    ids=_id,
)
def test_a_failure_the_user_can_act_on_is_one_line_and_exit_1(
    error: BaseException, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command("prog", lambda: _raise(error)) == EXIT_ERROR
    assert capsys.readouterr().err == line + "\n"


def test_the_details_of_a_failure_go_to_the_debug_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="supervisor.redis")
    error = ValueError("bad value")
    run_command("prog", lambda: _raise(error))
    [record] = caplog.records
    assert (record.name, record.levelno) == ("supervisor.redis", logging.DEBUG)
    assert record.getMessage() == "prog failed"
    assert record.exc_info is not None
    assert record.exc_info[1] is error


def test_other_failures_are_not_hidden() -> None:
    with pytest.raises(RuntimeError):
        run_command("prog", lambda: _raise(RuntimeError("a bug")))
    group = ExceptionGroup("g", [ValueError("a"), ValueError("b")])
    with pytest.raises(ExceptionGroup):
        run_command("prog", lambda: _raise(group))


def test_fail_prints_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert fail("p", "m") == EXIT_ERROR
    assert fail("p", "m", code=3) == 3
    assert capsys.readouterr().err == "p: error: m\np: error: m\n"
