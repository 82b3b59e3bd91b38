"""Child processes of the dev stack.

Each child runs in its own session (so its own process group): Ctrl-C in the terminal reaches only the dev stack,
which then stops the children in order, each as a whole group. Output goes to a log file per child. A pid file
(pid and start time) lets the next `up` end a child that a killed dev stack left behind, and never another process
that happens to reuse the pid.
"""

import asyncio
import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import psutil

REPOSITORY = Path(__file__).resolve().parent.parent


class StackError(RuntimeError):
    """The dev stack cannot go on; the message says what failed and what to do about it."""


class ChildDied(StackError):
    def __init__(self, child: "Child", code: int) -> None:
        self.child = child
        self.code = code
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        super().__init__(f"{child.name} {how} (log: {child.log_path}). Its last lines:\n{child.log_tail()}")


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    pid_path: Path
    cwd: Path | None = None
    # How a left-behind instance is asked to stop (PostgreSQL: SIGINT is its "fast" shutdown).
    stop_signal: signal.Signals = signal.SIGTERM
    # A command that stops the child more politely than a signal (PostgreSQL: pg_ctl stop -m fast).
    stop_command: list[str] | None = None
    stop_timeout: float = 20.0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log_start: int = field(default=0, repr=False)  # where this run's output begins in the (appended) log

    @classmethod
    def python(cls, state_dir: Path, name: str, *args: str) -> "Child":
        """`python <args>` on this interpreter from the repository root, its log and pid file under `state_dir`."""
        return cls(
            name=name,
            argv=[sys.executable, *args],
            log_path=state_dir / "logs" / f"{name}.log",
            pid_path=state_dir / "run" / f"{name}.pid",
            cwd=REPOSITORY,
        )

    def start(self) -> None:
        end_left_behind(self.pid_path, self.stop_signal, self.stop_timeout)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._log_start = log.tell()
            log.write(f"\n==> {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                start_new_session=True,
            )
        created = psutil.Process(self.process.pid).create_time()
        self.pid_path.parent.mkdir(parents=True, exist_ok=True)
        self.pid_path.write_text(f"{self.process.pid} {created}\n")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def exit_code(self) -> int | None:
        """None while running (or never started); the exit code once it has ended."""
        return self.process.poll() if self.process else None

    def check_alive(self) -> None:
        code = self.exit_code()
        if code is not None:
            raise ChildDied(self, code)

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            if self.stop_command:
                with contextlib.suppress(subprocess.SubprocessError, OSError):
                    subprocess.run(
                        self.stop_command,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        timeout=self.stop_timeout,
                        check=False,
                    )
            else:
                _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        # Grandchildren that outlived their parent (a reloader's workers, say) go with the group.
        _signal_group(process.pid, signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL the child and every process under it, no shutdown of any kind (a crash), and wait for all to go.

        The tree, not only the group: a server may put its workers in a group of their own, and PostgreSQL's backends
        hold its shared memory until they are gone (the next postmaster refuses to start while they are)."""
        process = self.process
        if process is None:
            return
        try:
            tree = psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        _signal_group(process.pid, signal.SIGKILL)
        for child in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        process.wait()
        psutil.wait_procs(tree, timeout=self.stop_timeout)
        self.pid_path.unlink(missing_ok=True)

    def log_tail(self, lines: int = 25) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_start)
                text = log.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join("    " + line for line in text.rstrip().splitlines()[-lines:])


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def end_left_behind(pid_path: Path, sig: signal.Signals, timeout: float) -> None:
    """End the process group a previous, killed dev stack left running, if the recorded process still lives."""
    try:
        pid_text, created_text = pid_path.read_text().split()
        pid, created = int(pid_text), float(created_text)
        process = psutil.Process(pid)
        if abs(process.create_time() - created) > 0.01:
            return  # the pid now belongs to another process
    except (OSError, ValueError, psutil.Error):
        pid_path.unlink(missing_ok=True)
        return
    print(f"==> stopping {pid_path.stem} (pid {pid}) left running by an earlier dev stack", flush=True)
    _signal_group(pid, sig)
    with contextlib.suppress(psutil.Error):
        process.wait(timeout=timeout)
    _signal_group(pid, signal.SIGKILL)
    pid_path.unlink(missing_ok=True)


def wait_until(
    what: str, probe: Callable[[], bool], *, child: Child | None, timeout: float, interval: float = 0.25
) -> None:
    """Poll `probe` until it answers True; fail early if `child` dies, and name `what` on a timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if child is not None:
            child.check_alive()
        try:
            ready = probe()
        except Exception:  # a probe failing just means "not yet"
            ready = False
        if ready:
            return
        if time.monotonic() > deadline:
            log = f" (log: {child.log_path})\n{child.log_tail()}" if child else ""
            raise StackError(f"{what} was not ready after {timeout:.0f} s{log}")
        time.sleep(interval)


async def answers_ok(what: str, url: str, *, child: Child, within: float, request_timeout: float = 3.0) -> None:
    """Wait (in a thread) until GET `url` answers 200, as `wait_until` does."""

    def ok() -> bool:
        return httpx.get(url, timeout=request_timeout).status_code == 200

    await asyncio.to_thread(wait_until, what, ok, child=child, timeout=within)


def stop_quietly(children: list[Child]) -> None:
    """Stop every child, the last started first, whatever fails on the way; the list is emptied."""
    for child in reversed(children):
        with contextlib.suppress(Exception):
            child.stop()
    children.clear()


def tcp_port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def require_free_port(host: str, port: int, setting: str) -> None:
    """Fail before starting anything when a port the stack needs is taken, naming the setting that moves it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers do: a port whose last connections linger in TIME_WAIT is free to listen on.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise StackError(
                f"port {port} on {host} is in use ({exc.strerror}); "
                f"stop what holds it or set LEADFLOW_{setting.upper()} to another port"
            ) from None


class StateLock:
    """One dev stack per state directory: a second `up` on the same data would corrupt it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StackError(
                f"another dev stack is running on {self.path.parent}; stop it first (Ctrl-C in its terminal)"
            ) from None
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
