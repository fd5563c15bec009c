"""Start a throwaway PostgreSQL server for the test suite (and the benchmark).

PostgreSQL refuses to run as root, so when we are root the data directory is
given to an unprivileged account (``postgres`` if Debian's package made one,
else ``nobody``) and the server runs as that account.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def find_bindir() -> Path:
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for path in candidates:
        if path and (Path(path) / "initdb").exists() and (Path(path) / "pg_ctl").exists():
            return Path(path)
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found: install Debian's 'postgresql' package "
        "(scripts/ensure-test-deps does this)."
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    run_as: str | None

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://readiness@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=readiness dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"],
            user=self.run_as,
            capture_output=True,
            cwd=self.root,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def _checked(user, cwd, args) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(a) for a in args], user=user, capture_output=True, text=True, cwd=cwd
    )
    if proc.returncode != 0:
        raise PostgresUnavailable(
            f"{' '.join(str(a) for a in args)} failed ({proc.returncode}):\n"
            f"{proc.stdout}\n{proc.stderr}"
        )
    return proc


def _unprivileged_account() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise PostgresUnavailable("running as root and no unprivileged account to run PostgreSQL")


def start(extra_settings: dict[str, str] | None = None) -> PostgresServer:
    """initdb a fresh cluster in a temporary directory and start it on a free local port."""
    bindir = find_bindir()
    run_as = _unprivileged_account()
    root = Path(tempfile.mkdtemp(prefix="readiness-pg-"))
    if run_as:
        info = pwd.getpwnam(run_as)
        os.chown(root, info.pw_uid, info.pw_gid)
    server = PostgresServer(bindir=bindir, root=root, port=free_port(), run_as=run_as)
    try:
        _checked(
            run_as,
            root,
            [
                bindir / "initdb",
                "-D",
                server.datadir,
                "-U",
                "readiness",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        )
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(server.port),
            "unix_socket_directories": str(root),
            # Throwaway data: durability is not what the tests are about.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            **(extra_settings or {}),
        }
        opts = " ".join(f"-c {k}={v}" for k, v in settings.items())
        _checked(
            run_as,
            root,
            [
                bindir / "pg_ctl",
                "-D",
                server.datadir,
                "-o",
                opts,
                "-l",
                root / "server.log",
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
    except Exception:
        log = root / "server.log"
        detail = log.read_text() if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"PostgreSQL did not start.\n{detail}") from None
    # Wait until it accepts TCP connections.
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise PostgresUnavailable("PostgreSQL did not accept connections") from None
            time.sleep(0.1)
    return server
