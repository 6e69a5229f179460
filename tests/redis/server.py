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
        cluster: bool = False,
    ) -> None:
        """``password``: requirepass; ``tls``: serve TLS only (no plain port);
        ``cluster``: a node of a Redis Cluster (``RedisCluster``)."""
        binary = shutil.which("redis-server")
        if binary is None:
            msg = "redis-server is not installed (apt-get install -y redis-server)"
            raise RuntimeError(msg)
        self.binary = binary
        self.directory = directory
        self.fsync = fsync
        self.password = password
        self.tls = tls
        self.cluster = cluster
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
                *([] if not self.cluster else [
                    "--cluster-enabled", "yes",
                    "--cluster-port", str(free_port()),
                    "--cluster-config-file", str(self.directory / "nodes.conf"),
                    "--cluster-node-timeout", "5000",
                ]),
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


class RedisCluster:
    """A local Redis Cluster of ``masters`` redis-server processes (no replicas)
    on loopback ports, joined by ``redis-cli --cluster create``."""

    def __init__(self, directory: Path, masters: int = 3) -> None:
        self.nodes = [
            RedisServer(directory / f"node-{i}", fsync="everysec", cluster=True)
            for i in range(masters)
        ]

    @property
    def url(self) -> str:
        """The URL of one node: the queue finds the others."""
        return self.nodes[0].url

    def start(self) -> None:
        for node in self.nodes:
            node.directory.mkdir(parents=True, exist_ok=True)
            node.start()
        cli = shutil.which("redis-cli")
        if cli is None:
            msg = "redis-cli is not installed (apt-get install -y redis-tools)"
            raise RuntimeError(msg)
        subprocess.run(
            [cli, "--cluster", "create",
             *(f"127.0.0.1:{n.port}" for n in self.nodes),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        deadline = time.monotonic() + START_BOUND
        while not all(self._ok(n) for n in self.nodes):
            if time.monotonic() > deadline:
                self.stop()
                msg = "the cluster did not reach cluster_state:ok"
                raise RuntimeError(msg)
            time.sleep(0.05)

    def _ok(self, node: RedisServer) -> bool:
        done = subprocess.run(
            ["redis-cli", "-p", str(node.port), "cluster", "info"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        return "cluster_state:ok" in done.stdout

    def master_of(self, key: str) -> int:
        """The port of the master that serves ``key``'s slot."""
        slot = int(subprocess.run(
            ["redis-cli", "-p", str(self.nodes[0].port), "cluster", "keyslot", key],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout)  # fmt: skip
        shards = subprocess.run(
            ["redis-cli", "-p", str(self.nodes[0].port), "cluster", "slots"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.split()  # fmt: skip
        # `cluster slots` prints per range: start, end, ip, port, id (one per line)
        for i in range(len(shards) - 3):
            if (
                shards[i].isdigit()
                and shards[i + 1].isdigit()
                and shards[i + 2] == "127.0.0.1"
            ):
                start, end, port = (
                    int(shards[i]),
                    int(shards[i + 1]),
                    int(shards[i + 3]),
                )
                if start <= slot <= end:
                    return port
        msg = f"no master serves slot {slot}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
