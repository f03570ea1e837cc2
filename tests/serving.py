"""Serving the API for tests that need a real socket: an in-process uvicorn, subprocesses, a private PostgreSQL.

Every wait here is bounded: a server that does not come up fails the test with what it printed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from api.server import SERVER_OPTIONS

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def eventually(check: Callable[[], Any], timeout: float, what: str, pause: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            result = check()
            if result:
                return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(pause)


@contextlib.contextmanager
def served_in_thread(app: Any) -> Iterator[str]:
    """Run `app` under uvicorn on a loopback port in this process; yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1, **SERVER_OPTIONS
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        eventually(lambda: server.started, 10, "uvicorn started")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Wait until `url` answers 200, failing early (with its output) if `process` exits."""
    import httpx  # noqa: PLC0415

    def up() -> bool:
        if process.poll() is not None:
            out = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"exited with {process.returncode}:\n{out}")
        return httpx.get(url, timeout=1).status_code == 200

    deadline = time.monotonic() + timeout
    while True:
        try:
            if up():
                return
        except AssertionError:
            raise
        except Exception:  # noqa: BLE001, S110  (not listening yet)
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout} s")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Stop a subprocess: SIGTERM, then SIGKILL if it does not go within `timeout`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


class PrivateCluster:
    """A throwaway PostgreSQL 15 cluster in a temporary folder, on its own port, that a test may stop and start.

    PostgreSQL refuses to run as root, so when the test runs as root the cluster belongs to `postgres`.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="cl-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(str(PG_BIN / "initdb"), "-A", "trust", "-U", "postgres", "-D", str(self.data), "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        done = subprocess.run([*self._as, *command], capture_output=True, timeout=60, check=False)  # noqa: S603  (our own pg_ctl)
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise AssertionError(f"{command[0]} failed: {done.stdout.decode()}{done.stderr.decode()}{log}")

    def start(self) -> None:
        options = f"-k {self.root} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(PG_BIN / "pg_ctl"), "start", "-w", "-t", "30", "-D", str(self.data), "-l", str(self.log), "-o", options
        )

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "stop", "-w", "-t", "30", "-m", "fast", "-D", str(self.data))

    def remove(self) -> None:
        with contextlib.suppress(AssertionError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
