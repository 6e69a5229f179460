"""How job arguments and results become bytes: a small protocol, JSON by default.

Never pickle: a payload is data that any process (and any language) can read, and
decoding one never runs code.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, final, runtime_checkable


@runtime_checkable
class Codec(Protocol):
    """Turns a job's arguments and result into bytes and back.

    ``encode`` raises ``TypeError`` (or ``ValueError``) for a value it cannot
    represent; ``decode`` raises ``ValueError`` for bytes it cannot read.
    """

    def encode(self, value: Any) -> bytes: ...

    def decode(self, data: bytes) -> Any: ...


@final
class JsonCodec:
    """The default codec: compact UTF-8 JSON, no NaN or infinities (other languages'
    JSON readers reject them). Tuples come back as lists."""

    __slots__ = ("_encoder",)

    def __init__(self) -> None:
        self._encoder = json.JSONEncoder(
            ensure_ascii=False, allow_nan=False, separators=(",", ":")
        )

    def encode(self, value: Any) -> bytes:
        return self._encoder.encode(value).encode()

    def decode(self, data: bytes) -> Any:
        return json.loads(data)

    def __repr__(self) -> str:
        return "JsonCodec()"


@final
class MsgspecCodec:
    """JSON through msgspec (``pip install msgspec``): the same bytes as
    ``JsonCodec`` for plain data, faster, and it also encodes dataclasses, attrs
    classes, datetimes and UUIDs."""

    __slots__ = ("_decoder", "_encoder")

    def __init__(self) -> None:
        try:
            import msgspec  # an optional dependency, imported when chosen
        except ImportError as exc:
            msg = "MsgspecCodec needs msgspec: pip install msgspec"
            raise ImportError(msg) from exc
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder()

    def encode(self, value: Any) -> bytes:
        return self._encoder.encode(value)

    def decode(self, data: bytes) -> Any:
        try:
            return self._decoder.decode(data)
        except Exception as exc:  # msgspec.DecodeError: one error class for the caller
            raise ValueError(str(exc)) from exc

    def __repr__(self) -> str:
        return "MsgspecCodec()"


def check_codec(codec: object) -> None:
    if not isinstance(codec, Codec):
        msg = f"codec must have encode() and decode() methods, got {codec!r}"
        raise TypeError(msg)


def encode_arguments(codec: Codec, name: str, args: tuple[Any, ...]) -> bytes:
    """The arguments of one job as one payload; a TypeError names the argument that
    the codec cannot encode."""
    try:
        return codec.encode(list(args))
    except (TypeError, ValueError, OverflowError):
        for index, arg in enumerate(args):
            try:
                codec.encode(arg)
            except (TypeError, ValueError, OverflowError) as exc:
                msg = (
                    f"argument {index} of job {name!r} ({type(arg).__name__}) cannot "
                    f"be encoded by {codec!r}: {exc}"
                )
                raise TypeError(msg) from exc
        raise
