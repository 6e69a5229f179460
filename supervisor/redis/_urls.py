"""Redis URLs: what ``url`` arguments accept, and how a URL is shown (its
password hidden) in every log line, error and view."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def check_url(url: object) -> None:
    if not isinstance(url, str):
        msg = (
            f"url must be a str such as 'redis://127.0.0.1:6379/0', "
            f"got {type(url).__name__}"
        )
        raise TypeError(msg)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        msg = f"url must start with redis://, rediss:// or unix://, got {redact(url)!r}"
        raise ValueError(msg)


def redact(url: str) -> str:
    """``url`` as it may be shown: a password in it replaced by ``***`` (also a
    ``password=`` query parameter)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    user, at, host = netloc.rpartition("@")
    if at and ":" in user:
        netloc = f"{user.partition(':')[0]}:***@{host}"
    elif at:
        netloc = f"***@{host}"  # redis://secret@host: the password alone
    query = "&".join(
        f"{k}=***" if k.lower() == "password" else f"{k}={v}" if eq else k
        for k, eq, v in (p.partition("=") for p in parts.query.split("&") if p)
    )
    if (netloc, query) == (parts.netloc, parts.query):
        return url  # (urlunsplit would drop the "//" of unix:///path)
    return urlunsplit(parts._replace(netloc=netloc, query=query))
