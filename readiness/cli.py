"""Command line: users and tokens, demo data, stock checks, backup and restore.

``flask --app wsgi db upgrade`` comes from Flask-Migrate.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from readiness import services
from readiness.errors import DomainError
from readiness.extensions import db
from readiness.models import ROLES, User
from readiness.permissions import SYSTEM

users_cli = AppGroup("users", help="Manage user accounts and API tokens.")
demo_cli = AppGroup("demo", help="Demonstration data.")


def _fail(err: DomainError) -> None:
    db.session.rollback()
    raise click.ClickException(err.message)


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(list(ROLES)))
@click.option("--unit", "unit_code", default=None, help="Unit code the user belongs to.")
@click.option("--name", default="", help="Display name.")
def users_create(username: str, role: str, unit_code: str | None, name: str) -> None:
    """Create a user; the password is read from standard input when it is not a terminal."""
    password = _read_password()
    try:
        unit = services.get_unit(db.session, unit_code) if unit_code else None
        user = services.create_user(
            db.session,
            username=username,
            password=password,
            role=role,
            unit=unit,
            name=name,
            actor=SYSTEM,
        )
    except DomainError as err:
        _fail(err)
    db.session.commit()
    click.echo(f"created user {user.username} ({user.role})")


@users_cli.command("token")
@click.argument("username")
def users_token(username: str) -> None:
    """Issue an API token; it is printed once, on the last line."""
    try:
        user = services.get_user(db.session, username)
        token = services.issue_token(db.session, user, actor=SYSTEM)
    except DomainError as err:
        _fail(err)
    db.session.commit()
    click.echo(f"API token for {username} (shown once, store it safely):")
    click.echo(token)


@users_cli.command("deactivate")
@click.argument("username")
def users_deactivate(username: str) -> None:
    """Deactivate a user: sessions and tokens stop working at once."""
    try:
        user = services.get_user(db.session, username)
        services.set_user_active(db.session, user, False, actor=SYSTEM)
    except DomainError as err:
        _fail(err)
    db.session.commit()
    click.echo(f"deactivated {username}")


@users_cli.command("list")
def users_list() -> None:
    """List accounts."""
    for user in db.session.scalars(select(User).order_by(User.username)):
        unit = user.unit.code if user.unit else "-"
        state = "active" if user.is_active else "inactive"
        click.echo(f"{user.username}\t{user.role}\t{unit}\t{state}\t{user.name}")


@demo_cli.command("load")
@click.option(
    "--if-empty",
    is_flag=True,
    help="Only when the database has no units yet (first start).",
)
@click.option(
    "--first-start",
    is_flag=True,
    help="What `make run` does: load the demo into the embedded SQLite database when it is "
    "empty; into a database given by DATABASE_URL never.",
)
def demo_load(if_empty: bool, first_start: bool) -> None:
    """Load the Dengfeng demonstration data (safe to run again)."""
    from flask import current_app

    from readiness import demo
    from readiness.config import storage_dir

    if first_start and not current_app.config["EMBEDDED_DATABASE"]:
        # A real database (DATABASE_URL): demo accounts with a published password never go in.
        click.echo(
            "DATABASE_URL is set: no demo data is loaded into that database.\n"
            "Create the first administrator with:\n"
            '  echo "$ADMIN_PASSWORD" | flask --app wsgi users create admin --role admin'
        )
        return
    empty = demo.database_is_empty(db.session)
    if (if_empty or first_start) and not empty:
        click.echo("database already has data; demo data not loaded")
    else:
        foreign = demo.foreign_data(db.session)
        if foreign:
            raise click.ClickException(
                "this database holds data that is not the demo's "
                f"({', '.join(foreign)}); demo data not loaded"
            )
        demo.load(db.session, storage_dir())
        db.session.commit()
        where = current_app.config["SQLALCHEMY_DATABASE_URI"].split("///")[-1]
        click.echo(f"demo data loaded into {where}")
    accounts = demo.active_demo_accounts(db.session)
    if accounts:
        click.echo(f"demo accounts (password: {demo.DEMO_PASSWORD}):")
        for user in accounts:
            unit = user.unit.code if user.unit else ""
            click.echo(f"  {user.username:<10} {user.role:<10} {unit}")


inventory_cli = AppGroup("inventory", help="Stock ledger checks.")


@inventory_cli.command("verify")
def inventory_verify() -> None:
    """Recompute every balance from the ledger; exit 1 and list any difference."""
    from inventory.ledger import verify_balances

    diffs = verify_balances(db.session)
    if not diffs:
        click.echo("ok: every balance equals the sum of its ledger")
        return
    for d in diffs:
        lot = f" lot {d.lot_code}" if d.lot_code else ""
        click.echo(
            f"MISMATCH {d.unit_code} {d.item_code}{lot}: balance {d.balance}, ledger {d.ledger}"
        )
    raise click.exceptions.Exit(1)


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:.1f} kB"


def _attachment_dir():
    from readiness.config import storage_dir

    return storage_dir()


def _backup_key() -> bytes | None:
    """READINESS_BACKUP_KEY: signs backups; it must never be kept with them."""
    import os

    from flask import current_app

    from readiness import backup

    value = current_app.config.get("BACKUP_KEY")
    if value is not None and not isinstance(value, str):
        # Settings are parsed as JSON: a key of digits would come back as a number.
        value = os.environ.get("READINESS_BACKUP_KEY", value)
    return backup.signing_key(value)


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
def backup_command(path: Path) -> None:
    """Back up the database and the attachment files to PATH while the app runs.

    PATH is a new directory, or a file ending in .tar.gz for a single archive. It holds
    database.sqlite3 (SQLite) or database.dump (pg_dump custom format), attachments/ and
    manifest.json (revision, rows per table, sha256 of every file), signed in
    manifest.json.sig with READINESS_BACKUP_KEY when it is set. Symbolic links in the
    attachment folder are not followed: they are left out with a warning.
    """
    from readiness import backup

    try:
        result = backup.create_backup(db.engine, _attachment_dir(), path, _backup_key())
    except backup.BackupError as err:
        raise click.ClickException(str(err)) from None
    manifest = result.manifest
    tables = manifest["tables"]
    attachments = [
        meta for name, meta in manifest["files"].items() if name.startswith(backup.ATTACHMENTS)
    ]
    click.echo(f"backup written: {result.path} ({_megabytes(result.size_bytes)})")
    click.echo(
        f"database: {manifest['backend']}, revision {manifest['alembic_revision']}, "
        f"{len(tables)} tables, {sum(tables.values())} rows"
    )
    for name, count in tables.items():
        click.echo(f"  {name:<28} {count:>8}")
    click.echo(
        f"attachments: {len(attachments)} files, {_megabytes(sum(m['size'] for m in attachments))}"
    )
    if result.signed:
        click.echo(f"signed: {backup.SIGNATURE} ({backup.SIGNATURE_SCHEME}, READINESS_BACKUP_KEY)")
    else:
        click.echo(
            "warning: READINESS_BACKUP_KEY is not set, so this backup is unsigned: nothing will "
            "show that it was not changed, and restoring it needs --unsigned",
            err=True,
        )
    for name in result.skipped:
        click.echo(
            f"warning: left out {name} from the attachment folder: not a regular file "
            "(a symbolic link is never followed)",
            err=True,
        )
    if manifest["missing_attachments"]:
        click.echo(
            f"warning: {len(manifest['missing_attachments'])} attachment files the database "
            "refers to were not found in the attachment folder",
            err=True,
        )


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace a database that already has data.")
@click.option(
    "--unsigned",
    is_flag=True,
    help="Accept a backup without a signature, or restore without READINESS_BACKUP_KEY "
    "(a signature that does not match is refused all the same).",
)
def restore_command(path: Path, yes: bool, unsigned: bool) -> None:
    """Restore a backup made by `flask backup` (a directory or a .tar.gz).

    STOP THE APP FIRST (gunicorn, timers): the database is replaced, and restore refuses
    while any app process serves it. SQLite: the file is written aside and swapped in;
    PostgreSQL: pg_restore --clean into DATABASE_URL, in one transaction. Before anything is
    touched the backup must hold only regular files and folders, its manifest must be signed
    with READINESS_BACKUP_KEY (or --unsigned given) and every sha256 must match. Attachment
    files are put back, then the row counts are compared with the manifest and the stock
    balances with their ledger. A database that already has data is only replaced with --yes.
    """
    from readiness import backup, serving

    # Nothing of ours may hold the database open while it is replaced.
    db.session.remove()
    engine = db.engine
    try:
        key = _backup_key()
        with serving.exclusive(engine), backup.opened_backup(path) as folder:
            manifest, signed = backup.read_manifest(folder, key, allow_unsigned=unsigned)
            if not signed:
                click.echo(
                    "warning: restoring an unsigned backup (--unsigned): its contents are "
                    "not authenticated",
                    err=True,
                )
            if backup.database_has_data(engine) and not yes:
                if not sys.stdin.isatty():
                    raise click.ClickException(
                        "the target database already has data; run again with --yes to replace it"
                    )
                click.confirm(
                    f"Replace the data in {engine.url.render_as_string()} "
                    f"with the backup of {manifest['created_at']}?",
                    abort=True,
                )
            result = backup.restore_backup(engine, _attachment_dir(), folder, manifest)
    except (backup.BackupError, serving.DatabaseInUse) as err:
        raise click.ClickException(str(err)) from None
    click.echo(
        f"restored {'signed' if signed else 'UNSIGNED'} backup of {manifest['created_at']} "
        f"({result.backend}, revision {result.revision}): {len(result.tables)} tables, "
        f"{sum(result.tables.values())} rows"
    )
    for name, count in result.tables.items():
        click.echo(f"  {name:<28} {count:>8}")
    click.echo(
        f"attachments: {result.files_written} files written, "
        f"{result.files_present} already in place"
    )
    if result.mismatches:
        for line in result.mismatches:
            click.echo(f"MISMATCH {line}", err=True)
        raise click.ClickException("the restored database differs from the backup's manifest")
    click.echo("ok: every table has the row count of the backup")
    _verify_restored_balances()


def _verify_restored_balances() -> None:
    """`flask inventory verify` on the restored database; exit 1 on any difference."""
    from sqlalchemy.exc import SQLAlchemyError

    click.echo("stock balances (flask inventory verify):")
    try:
        click.get_current_context().invoke(inventory_verify)
    except SQLAlchemyError as err:
        db.session.rollback()
        # A backup older than this code lacks columns the check reads.
        click.echo(
            f"warning: the stock check could not run ({type(err).__name__}); run "
            "flask --app wsgi db upgrade, then flask --app wsgi inventory verify",
            err=True,
        )
        return
    click.echo("if this code is newer than the backup, run: flask --app wsgi db upgrade")


def init_app(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(inventory_cli)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
