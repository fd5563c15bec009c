"""Backups: a consistent copy of the database and the attachment files, and its restore.

A backup is a directory (or the same directory packed as ``.tar.gz``)::

    manifest.json        created_at, backend, alembic revision, rows per table, sha256 per file
    manifest.json.sig    HMAC-SHA256 of manifest.json under READINESS_BACKUP_KEY (when set)
    database.sqlite3     SQLite: a copy made with the online backup API
    database.dump        PostgreSQL: ``pg_dump --format=custom``
    attachments/ab/ab…   the attachment files, laid out as in ATTACHMENT_DIR

The signature covers every file (the manifest lists their sha256) with a key that is not in
the backup, so a backup edited and re-hashed by whoever can write where backups are kept is
refused. A backup may hold only regular files and folders: a symbolic link, device or pipe in
it is refused before anything is read through it.

Plain functions taking an engine and paths; the CLI in ``readiness/cli.py`` calls them.
"""

from __future__ import annotations

import glob
import hashlib
import hmac
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, Engine

FORMAT = "readiness-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
SIGNATURE_SCHEME = "hmac-sha256"
# A key shorter than this is a password someone typed, not a secret to sign backups with.
MIN_KEY_LENGTH = 16
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.dump"
ATTACHMENTS = "attachments"

# Tables a freshly migrated database already fills (alembic's own, and the drill kinds seeded
# by migration 0007): rows there do not make a database "in use".
SEEDED_TABLES = frozenset({"alembic_version", "drill_kinds"})


class BackupError(Exception):
    """Anything that stops a backup or a restore; the message is for the operator."""


@dataclass
class BackupResult:
    path: Path
    size_bytes: int
    manifest: dict
    signed: bool = False
    # Attachment-folder entries left out because they are not regular files (symlinks…).
    skipped: list[str] = field(default_factory=list)


@dataclass
class RestoreResult:
    backend: str
    revision: str | None
    tables: dict[str, int]
    files_written: int
    files_present: int
    mismatches: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- helpers


def backend_of(engine: Engine) -> str:
    name = engine.dialect.name
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"backups support SQLite and PostgreSQL, not {name}")
    return name


def sqlite_path(url: URL) -> Path:
    """The file a SQLite URL points at (in-memory databases cannot be backed up)."""
    if not url.database or url.database == ":memory:" or url.database.startswith("file::memory"):
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _open_regular(path: Path):
    """Open a file for reading without following a symbolic link in its last component."""
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with _open_regular(path) as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def signing_key(value) -> bytes | None:
    """READINESS_BACKUP_KEY as bytes, or None when it is not set; a short key is refused."""
    if value is None or value == "":
        return None
    key = str(value).encode("utf-8")
    if len(key) < MIN_KEY_LENGTH:
        raise BackupError(
            f"READINESS_BACKUP_KEY is too short: use at least {MIN_KEY_LENGTH} random characters, "
            "e.g. from: python3 -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return key


def signature_of(manifest: bytes, key: bytes) -> str:
    """What ``manifest.json.sig`` holds for these manifest bytes under this key."""
    return f"{SIGNATURE_SCHEME}:{hmac.new(key, manifest, hashlib.sha256).hexdigest()}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _version(binary: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)(?:\.(\d+))?", out.stdout)
    if out.returncode != 0 or not match:
        return None
    return tuple(int(g) for g in match.groups() if g is not None)


def find_pg_tool(name: str) -> str:
    """The newest ``pg_dump``/``pg_restore`` on PATH or under /usr/lib/postgresql/*/bin
    (a dump must be made by a pg_dump at least as new as the server)."""
    candidates = []
    on_path = shutil.which(name)
    if on_path:
        candidates.append(on_path)
    candidates += glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    found = []
    for binary in dict.fromkeys(candidates):
        version = _version(binary)
        if version:
            # On a tie prefer the real binary to Debian's /usr/bin wrapper.
            found.append((version, binary.startswith("/usr/lib/postgresql/"), binary))
    if not found:
        raise BackupError(
            f"{name} not found on PATH or under /usr/lib/postgresql/*/bin "
            "(install the PostgreSQL client, e.g. Debian's postgresql-client)"
        )
    return max(found)[2]


def _pg_target(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment carrying it
    (a password on the command line would show in ``ps``)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    # url.set(password=None) would keep the password: build the URL afresh.
    plain = URL.create(
        "postgresql",
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    )
    return plain.render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise BackupError(f"{what} failed (exit {proc.returncode}): {detail}")


def _table_names(conn: Connection) -> list[str]:
    if conn.dialect.name == "sqlite":
        sql = (
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    else:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
    return list(conn.execute(text(sql)).scalars())


def _row_counts(conn: Connection) -> dict[str, int]:
    return {
        name: conn.execute(text(f"SELECT count(*) FROM {_quote(name)}")).scalar_one()
        for name in _table_names(conn)
    }


def _revision(conn: Connection, tables) -> str | None:
    if "alembic_version" not in tables:
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _attachment_hashes(conn: Connection, tables) -> set[str]:
    if "drill_attachments" not in tables:
        return set()
    return set(conn.execute(text("SELECT DISTINCT sha256 FROM drill_attachments")).scalars())


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows in every table of the database the engine points at."""
    with engine.connect() as conn:
        return _row_counts(conn)


def database_has_data(engine: Engine) -> bool:
    """True when any table other than those the migrations fill has a row."""
    if engine.dialect.name == "sqlite":
        path = sqlite_path(engine.url)
        if not path.exists() or path.stat().st_size == 0:
            return False
    counts = row_counts(engine)
    return any(n for name, n in counts.items() if name not in SEEDED_TABLES)


# ---------------------------------------------------------------- backup


def _backup_sqlite(engine: Engine, dest: Path) -> tuple[dict[str, int], str | None, set[str]]:
    source = sqlite3.connect(sqlite_path(engine.url), timeout=30)
    target = sqlite3.connect(dest)
    try:
        # One step (pages=-1) reads the whole database in a single read transaction: a
        # snapshot, while writers go on appending to the WAL.
        source.backup(target)
    finally:
        source.close()
    try:
        # A self-contained file: no -wal beside it, whatever mode the source was in.
        target.execute("PRAGMA journal_mode=DELETE")
        check = target.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the copied SQLite database fails its check: {check}")
    finally:
        target.close()
    copy = sqlite3.connect(f"file:{dest}?mode=ro", uri=True)
    try:
        tables = [
            r[0]
            for r in copy.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        counts = {
            t: copy.execute(f"SELECT count(*) FROM {_quote(t)}").fetchone()[0] for t in tables
        }
        revision = None
        if "alembic_version" in counts:
            row = copy.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
        hashes = set()
        if "drill_attachments" in counts:
            hashes = {r[0] for r in copy.execute("SELECT DISTINCT sha256 FROM drill_attachments")}
    finally:
        copy.close()
    return counts, revision, hashes


def _backup_postgresql(engine: Engine, dest: Path) -> tuple[dict[str, int], str | None, set[str]]:
    pg_dump = find_pg_tool("pg_dump")
    target, env = _pg_target(engine.url)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            # Count the rows in the very snapshot pg_dump reads, so the manifest matches
            # the dump even while the app keeps writing.
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            counts = _row_counts(conn)
            revision = _revision(conn, counts)
            hashes = _attachment_hashes(conn, counts)
            _run(
                [
                    pg_dump,
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--file={dest}",
                    f"--dbname={target}",
                ],
                env,
                "pg_dump",
            )
    return counts, revision, hashes


def _copy_attachments(source: Path, dest: Path) -> tuple[int, list[str]]:
    """Copy the regular files of the attachment folder. Anything else there (a symbolic link,
    a device) is never followed: it is left out and named in the second value."""
    count = 0
    skipped: list[str] = []
    if not source.is_dir():
        return count, skipped

    def fail(err: OSError) -> None:
        raise BackupError(f"cannot read the attachment folder: {err}")

    # followlinks=False: a linked folder is listed among the folders but not entered.
    for root, dirs, files in os.walk(source, onerror=fail):
        here = Path(root)
        for name in sorted(d for d in dirs if (here / d).is_symlink()):
            skipped.append((here / name).relative_to(source).as_posix())
        dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink())
        for name in sorted(files):
            # Skip half-written uploads (drills.attachments writes ".upload-*" then renames).
            if name.startswith("."):
                continue
            path = here / name
            rel = path.relative_to(source)
            if not stat.S_ISREG(os.lstat(path).st_mode):
                skipped.append(rel.as_posix())
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                src = _open_regular(path)
            except OSError:  # became a link since it was looked at
                skipped.append(rel.as_posix())
                continue
            with src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
            count += 1
    return count, skipped


def _is_archive(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz"))


def create_backup(
    engine: Engine, attachment_dir: Path, path: Path, key: bytes | None = None
) -> BackupResult:
    """Write a backup of the database and the attachment files to ``path`` (a new directory,
    or a ``.tar.gz`` file), its manifest signed with ``key`` when one is given; nothing
    appears at ``path`` unless the backup is complete."""
    backend = backend_of(engine)
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{path} already exists; choose a new path")
    path.parent.mkdir(parents=True, exist_ok=True)
    # The backup holds password hashes and tokens: readable by the owner only.
    work = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.partial-"))
    packed = work.with_name(work.name + ".tar.gz")
    try:
        db_name = SQLITE_FILE if backend == "sqlite" else PG_FILE
        if backend == "sqlite":
            counts, revision, hashes = _backup_sqlite(engine, work / db_name)
        else:
            counts, revision, hashes = _backup_postgresql(engine, work / db_name)
        # Files after the database: an upload's bytes are on disk before its row commits,
        # so every attachment in the snapshot already has its file.
        _copied, skipped = _copy_attachments(Path(attachment_dir), work / ATTACHMENTS)
        files = {
            p.relative_to(work).as_posix(): {"sha256": sha256_of(p), "size": p.stat().st_size}
            for p in sorted(work.rglob("*"))
            if p.is_file()
        }
        present = {PurePosixPath(name).name for name in files if name.startswith(ATTACHMENTS)}
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "backend": backend,
            "database_file": db_name,
            "alembic_revision": revision,
            "tables": counts,
            "files": files,
            "missing_attachments": sorted(hashes - present),
        }
        raw = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        (work / MANIFEST).write_bytes(raw)
        if key is not None:
            (work / SIGNATURE).write_text(signature_of(raw, key) + "\n", encoding="ascii")
        # Whatever the umask, every file in the copy is the owner's only, as the live database.
        for item in work.rglob("*"):
            os.chmod(item, 0o700 if item.is_dir() else 0o600)
        if _is_archive(path):
            with tarfile.open(packed, "w:gz") as tar:
                for item in sorted(work.iterdir()):
                    tar.add(item, arcname=item.name)
            os.chmod(packed, 0o600)
            os.replace(packed, path)
        else:
            if path.exists():
                path.rmdir()
            os.replace(work, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        packed.unlink(missing_ok=True)
    size = path.stat().st_size if path.is_file() else _tree_size(path)
    return BackupResult(
        path=path, size_bytes=size, manifest=manifest, signed=key is not None, skipped=skipped
    )


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ---------------------------------------------------------------- restore


@contextmanager
def opened_backup(path: Path) -> Iterator[Path]:
    """The backup's directory: ``path`` itself, or a temporary extraction of the archive."""
    path = Path(path)
    if path.is_dir():
        yield path
        return
    if not path.is_file():
        raise BackupError(f"{path}: no such backup")
    if not tarfile.is_tarfile(path):
        raise BackupError(f"{path} is neither a backup directory nor a .tar.gz backup")
    with tempfile.TemporaryDirectory(prefix="readiness-restore-") as tmp:
        try:
            with tarfile.open(path, "r:*") as tar:
                _refuse_odd_members(tar.getmembers())
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as err:
            raise BackupError(f"{path}: cannot unpack: {err}") from None
        yield Path(tmp)


def _refuse_odd_members(members: list[tarfile.TarInfo]) -> None:
    """Refuse an archive holding anything but plain files and folders under its own root."""
    problems = []
    for member in members:
        name = PurePosixPath(member.name)
        if member.issym() or member.islnk():
            problems.append(f"link: {member.name} -> {member.linkname}")
        elif not (member.isreg() or member.isdir()):
            problems.append(f"not a regular file or folder: {member.name}")
        elif name.is_absolute() or ".." in name.parts:
            problems.append(f"unsafe path: {member.name}")
    if problems:
        raise BackupError(
            "the archive holds entries no backup has; nothing restored:\n  " + "\n  ".join(problems)
        )


def _refuse_odd_files(folder: Path) -> None:
    """Refuse a backup folder holding anything but regular files and folders: a symbolic link
    could make restore copy any file the restoring user can read into the attachment store."""
    problems = []

    def fail(err: OSError) -> None:
        raise BackupError(f"cannot read the backup: {err}")

    for root, dirs, files in os.walk(folder, onerror=fail):
        for name in sorted(dirs + files):
            path = Path(root) / name
            mode = os.lstat(path).st_mode
            rel = path.relative_to(folder).as_posix()
            if stat.S_ISLNK(mode):
                problems.append(f"symbolic link: {rel} -> {os.readlink(path)}")
            elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                problems.append(f"not a regular file or folder: {rel}")
    if problems:
        raise BackupError(
            "the backup holds entries no backup has; nothing restored:\n  " + "\n  ".join(problems)
        )


def _check_signature(folder: Path, raw: bytes, key: bytes | None, allow_unsigned: bool) -> bool:
    """True when the manifest carries a signature that matches under ``key``. A signature
    that does not match is refused, whatever ``allow_unsigned`` says."""
    try:
        with _open_regular(folder / SIGNATURE) as fh:
            stored = fh.read(1024).strip()
    except FileNotFoundError:
        stored = None
    if stored is None:
        if allow_unsigned:
            return False
        if key is None:
            raise BackupError(
                "this backup is unsigned and READINESS_BACKUP_KEY is not set, so nothing can "
                "show it is the copy the app made; nothing restored. Run again with --unsigned "
                "only if you trust every place this copy has been"
            )
        raise BackupError(
            f"this backup has no signature ({SIGNATURE}): it was made without "
            "READINESS_BACKUP_KEY, or the signature was removed; nothing restored. Run again "
            "with --unsigned only if you trust every place this copy has been"
        )
    if key is None:
        if allow_unsigned:
            return False
        raise BackupError(
            "this backup is signed but READINESS_BACKUP_KEY is not set, so its signature "
            "cannot be checked; nothing restored. Set the key it was made with "
            "(or pass --unsigned to restore without checking)"
        )
    if not hmac.compare_digest(stored, signature_of(raw, key).encode("ascii")):
        raise BackupError(
            "the manifest's signature does not match READINESS_BACKUP_KEY: the backup was "
            "changed after it was made, or made with another key; nothing restored "
            "(--unsigned does not override a wrong signature)"
        )
    return True


def read_manifest(
    folder: Path, key: bytes | None, *, allow_unsigned: bool = False
) -> tuple[dict, bool]:
    """The manifest, once the backup holds only regular files and folders, its signature
    matches under ``key`` and every file it lists is present with its sha256 (and nothing
    else); and whether it was signed. A backup without a signature, or a check without a
    key, passes only with ``allow_unsigned``."""
    folder = Path(folder)
    _refuse_odd_files(folder)
    try:
        with _open_regular(folder / MANIFEST) as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise BackupError(f"{folder}: no {MANIFEST}; not a Readiness backup") from None
    signed = _check_signature(folder, raw, key, allow_unsigned)
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise BackupError(f"{MANIFEST} is not valid JSON: {err}") from None
    if not isinstance(manifest, dict):
        raise BackupError(f"{MANIFEST}: not a Readiness backup of format {FORMAT_VERSION}")
    if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        raise BackupError(f"{MANIFEST}: not a Readiness backup of format {FORMAT_VERSION}")
    files = manifest.get("files") or {}
    if manifest.get("database_file") not in files:
        raise BackupError(f"{MANIFEST} does not list the database file")
    problems = []
    for name, meta in files.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts:
            raise BackupError(f"{MANIFEST} lists an unsafe path: {name}")
        path = folder / rel
        if not path.is_file():
            problems.append(f"missing file {name}")
        elif not isinstance(meta, dict) or path.stat().st_size != meta.get("size"):
            problems.append(f"size mismatch: {name}")
        elif sha256_of(path) != meta.get("sha256"):
            problems.append(f"sha256 mismatch: {name}")
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name not in (MANIFEST, SIGNATURE) and name not in files:
            problems.append(f"file not in the manifest: {name}")
    if problems:
        raise BackupError(
            "backup is damaged or was changed; nothing restored:\n  " + "\n  ".join(problems)
        )
    return manifest, signed


def _owned_like(path: Path, like: Path, mode: int | None = None) -> None:
    """Give a restored file the owner (and mode) of what it replaces, so an app running as
    another user than the one restoring (root, say) can still open it."""
    if not like.exists():
        return
    info = like.stat()
    os.chmod(path, mode if mode is not None else info.st_mode & 0o777)
    if os.geteuid() == 0:
        os.chown(path, info.st_uid, info.st_gid)


def _restore_sqlite(engine: Engine, source: Path) -> None:
    target = sqlite_path(engine.url)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.restore-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, _open_regular(source) as src:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
        if target.exists():
            _owned_like(tmp, target)
        else:
            _owned_like(tmp, target.parent, 0o600)
        engine.dispose()
        if target.exists():
            # Fold the old WAL into the old file and drop it: a stale -wal next to the new
            # file would be replayed onto it.
            conn = sqlite3.connect(target, timeout=30)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _restore_postgresql(engine: Engine, source: Path) -> None:
    pg_restore = find_pg_tool("pg_restore")
    target, env = _pg_target(engine.url)
    # Fail instead of waiting forever on a table an app process still has open.
    env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " -c lock_timeout=30s").strip()
    engine.dispose()
    _run(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={target}",
            str(source),
        ],
        env,
        "pg_restore",
    )


def _restore_attachments(folder: Path, manifest: dict, attachment_dir: Path) -> tuple[int, int]:
    written = present = 0
    prefix = ATTACHMENTS + "/"
    if not attachment_dir.exists():
        attachment_dir.mkdir(parents=True)
        _owned_like(attachment_dir, attachment_dir.parent)
    for name, meta in manifest["files"].items():
        if not name.startswith(prefix):
            continue
        target = attachment_dir / PurePosixPath(name[len(prefix) :])
        # A link in the store is replaced by the file, never read through.
        same_size = (
            not target.is_symlink() and target.is_file() and target.stat().st_size == meta["size"]
        )
        if same_size and sha256_of(target) == meta["sha256"]:
            present += 1
            continue
        if not target.parent.exists():
            target.parent.mkdir(parents=True)
            _owned_like(target.parent, attachment_dir)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out, _open_regular(folder / name) as src:
                shutil.copyfileobj(src, out)
                out.flush()
                os.fsync(out.fileno())
            # Files as the app writes them (mode 0600), owned by the folder's owner.
            _owned_like(Path(tmp), attachment_dir, 0o600)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        written += 1
    return written, present


def restore_backup(
    engine: Engine, attachment_dir: Path, folder: Path, manifest: dict
) -> RestoreResult:
    """Replace the database with the backup's and put back its attachment files, then count
    the rows again. ``manifest`` comes from ``read_manifest(folder, key)``. Run it inside
    ``serving.exclusive(engine)``: no app process may work on the database meanwhile."""
    backend = backend_of(engine)
    if manifest.get("backend") != backend:
        raise BackupError(
            f"this backup is of a {manifest.get('backend')} database; the target is {backend}"
        )
    source = folder / manifest["database_file"]
    if backend == "sqlite":
        _restore_sqlite(engine, source)
    else:
        _restore_postgresql(engine, source)
    written, present = _restore_attachments(folder, manifest, Path(attachment_dir))
    with engine.connect() as conn:
        counts = _row_counts(conn)
        revision = _revision(conn, counts)
    expected = manifest["tables"]
    mismatches = [
        f"{name}: {counts.get(name, 'missing')} rows, backup has {n}"
        for name, n in expected.items()
        if counts.get(name) != n
    ]
    if revision != manifest.get("alembic_revision"):
        mismatches.append(
            f"alembic revision {revision}, backup has {manifest.get('alembic_revision')}"
        )
    return RestoreResult(
        backend=backend,
        revision=revision,
        tables=counts,
        files_written=written,
        files_present=present,
        mismatches=mismatches,
    )
