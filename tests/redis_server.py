"""Start a throw-away redis-server on a free loopback port for tests.

In CI (`DOORAJAR_CI=1`) a missing redis-server is a failure; elsewhere the tests are skipped
with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def require_redis_server() -> str:
    """The redis-server path, or skip (fail in CI) when it is not installed."""
    path = shutil.which("redis-server")
    if path is None:
        if os.environ.get("DOORAJAR_CI"):
            pytest.fail("redis-server is not installed; .ci/run must install it")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return path


@dataclass
class RedisServer:
    """A redis-server on a fixed loopback port that a test can kill and start again.

    `durable` keeps an append-only file synced on every write, so the data survives a kill
    as it would on a server configured for it.
    """

    workdir: Path
    durable: bool = False
    options: tuple[str, ...] = ()
    """More redis-server options (`--requirepass`, `--unixsocket`, ...)."""
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        """Start it and wait until it accepts connections; its URL."""
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else []
        self.process = subprocess.Popen(
            [
                require_redis_server(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *persistence,
                *self.options,
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "redis-server exited at start"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self.url
            except OSError:
                time.sleep(0.02)
        self.kill()
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """Stop it at once, as a crash or a lost network would (SIGKILL)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """Stop it politely."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A running redis-server; yields its URL and stops it afterwards."""
    server = RedisServer(workdir)
    try:
        yield server.start()
    finally:
        server.stop()
