"""A real ``redis-server`` for the tests: 127.0.0.1, a free port, a temp dir, AOF
with ``appendfsync always``, stopped by its pid."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pathlib import Path

#: The longest a server may take to start answering (seconds, real clock).
START_BOUND: Final = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ping(
    port: int, tls: ssl.SSLContext | None = None, password: str | None = None
) -> bool:
    hello = b"PING\r\n" if password is None else f"AUTH {password}\r\nPING\r\n".encode()
    try:
        with contextlib.ExitStack() as stack:
            s = stack.enter_context(
                socket.create_connection(("127.0.0.1", port), timeout=0.5)
            )
            if tls is not None:
                s = stack.enter_context(tls.wrap_socket(s, server_hostname="127.0.0.1"))
            s.sendall(hello)
            reply = b""
            while b"PONG" not in reply and not reply.startswith(b"-"):
                chunk = s.recv(64)
                if not chunk:
                    break
                reply += chunk
            return b"+PONG" in reply
    except OSError:
        return False


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a TLS-serving redis-server (made by ``trustme``)."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def make(cls, directory: Path) -> TlsFiles:
        import trustme

        ca = trustme.CA()
        server = ca.issue_cert("127.0.0.1")
        files = cls(
            directory / "ca.pem", directory / "server.pem", directory / "server.key"
        )
        ca.cert_pem.write_to_path(str(files.ca))
        server.cert_chain_pems[0].write_to_path(str(files.cert))
        server.private_key_pem.write_to_path(str(files.key))
        return files


class RedisServer:
    """One redis-server process; ``kill()`` and ``start()`` again keep the port and
    the data directory, so a restart reads the AOF back."""

    def __init__(
        self,
        directory: Path,
        *,
        fsync: str = "always",
        password: str | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        """``password``: requirepass; ``tls``: serve TLS only (no plain port)."""
        binary = shutil.which("redis-server")
        if binary is None:
            msg = "redis-server is not installed (apt-get install -y redis-server)"
            raise RuntimeError(msg)
        self.binary = binary
        self.directory = directory
        self.fsync = fsync
        self.password = password
        self.tls = tls
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = "" if self.password is None else f"default:{self.password}@"
        if self.tls is None:
            return f"redis://{auth}127.0.0.1:{self.port}/0"
        return (
            f"rediss://{auth}127.0.0.1:{self.port}/0?ssl_ca_certs={self.tls.ca}"
            f"&ssl_cert_reqs=required&ssl_check_hostname=true"
        )

    def start(self) -> None:
        assert self.process is None
        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind", "127.0.0.1",
                *(["--port", str(self.port)] if self.tls is None else [
                    "--port", "0", "--tls-port", str(self.port),
                    "--tls-cert-file", str(self.tls.cert),
                    "--tls-key-file", str(self.tls.key),
                    "--tls-ca-cert-file", str(self.tls.ca),
                    "--tls-auth-clients", "optional",
                ]),
                *([] if self.password is None else ["--requirepass", self.password]),
                "--dir", str(self.directory),
                "--appendonly", "yes",
                "--appendfsync", self.fsync,
                "--save", "",
                "--daemonize", "no",
                "--protected-mode", "yes",
                "--logfile", str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_BOUND
        context = None
        if self.tls is not None:
            context = ssl.create_default_context(cafile=str(self.tls.ca))
        while not _ping(self.port, context, self.password):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.directory / "redis.log").read_text(errors="replace")
                self.stop()
                msg = f"redis-server did not start on port {self.port}:\n{log[-2000:]}"
                raise RuntimeError(msg)
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: no shutdown save; what survives is what the AOF holds."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
