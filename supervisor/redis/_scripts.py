"""The queue's Lua scripts: each outcome, start, renewal and reclaim is one atomic
step on the server. The texts live in ``lua/``; ``common.lua`` is prepended to
each."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any, Final

import attrs
from coredis.commands import Script

from ._keys import QueueKeys

if TYPE_CHECKING:
    from collections.abc import Sequence

    import coredis

NAMES: Final = (
    "enqueue",
    "promote",
    "begin",
    "fetch",
    "reclaim",
    "outcome",
    "renew",
    "cancel",
    "requeue",
    "stats",
    "heartbeat",
    "leave",
)


def _text(name: str) -> str:
    return (resources.files(__package__) / "lua" / f"{name}.lua").read_text()


_COMMON: Final = _text("common")
SOURCES: Final = {name: _COMMON + _text(name) for name in NAMES}


@attrs.define(eq=False)
class Scripts:
    """The scripts registered on one client, called with the queue's prefix."""

    _keys: QueueKeys
    _scripts: dict[str, Script[bytes]]

    @classmethod
    def register(cls, client: coredis.Redis[bytes], keys: QueueKeys) -> Scripts:
        return cls(
            keys, {name: client.register_script(src) for name, src in SOURCES.items()}
        )

    async def call(self, name: str, *args: str | bytes | int | float) -> Any:
        keys = self._keys
        return await self._scripts[name](keys=[keys.stream], args=[keys.prefix, *args])

    async def call_many(
        self, name: str, args: Sequence[str | bytes | int | float]
    ) -> Any:
        keys = self._keys
        return await self._scripts[name](keys=[keys.stream], args=[keys.prefix, *args])
