"""Command line: users and tokens, demo data.

``flask --app wsgi db upgrade`` comes from Flask-Migrate.
"""

from __future__ import annotations

import sys

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
def demo_load(if_empty: bool) -> None:
    """Load the Dengfeng demonstration data (safe to run again)."""
    from drills.attachment_views import storage_dir
    from readiness import demo

    if if_empty and not demo.database_is_empty(db.session):
        click.echo("database already has data; demo data not loaded")
    else:
        demo.load(db.session, storage_dir())
        db.session.commit()
        click.echo("demo data loaded")
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
    from inventory.services import verify_balances

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


def init_app(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(inventory_cli)
