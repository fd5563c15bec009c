"""Settings: defaults, then READINESS_* environment variables, then DATABASE_URL / SECRET_KEY."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, current_app

# The longest "keep me signed in" a setting may ask for (issue 14).
REMEMBER_MAX = timedelta(days=14)

DEFAULTS = {
    "BASE_URL": "http://127.0.0.1:5000",
    "BABEL_DEFAULT_LOCALE": "zh",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    # Failed sign-ins, counted in the database: one address guessing one username is shut
    # out LOGIN_LOCK_MINUTES after LOGIN_MAX_FAILURES within that many minutes; one address
    # after LOGIN_ADDRESS_MAX_FAILURES over all usernames. A username guessed from many
    # addresses pauses only briefly, so nobody can keep its owner out for long.
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCK_MINUTES": 15,
    "LOGIN_ADDRESS_MAX_FAILURES": 20,
    "LOGIN_ACCOUNT_MAX_FAILURES": 20,
    "LOGIN_ACCOUNT_PAUSE_MINUTES": 1,
    # Reverse proxies in front of the app whose X-Forwarded-For is believed (0: none, the
    # client address is the connection's).
    "TRUSTED_PROXIES": 0,
    # Spending of this many yuan or more needs a collective decision (三重一大): an
    # allocation two approvers, a purchase, subsidy or repair a recorded decision.
    "COLLECTIVE_DECISION_THRESHOLD": 50000,
    # The share of a bureau's leadership group that must sit for a decision to stand.
    "DECISION_QUORUM": "2/3",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    # "Keep me signed in" lasts two weeks at most; signing out anywhere ends it.
    "REMEMBER_COOKIE_DURATION": REMEMBER_MAX,
    # A duty officer may leave a form open through a shift.
    "WTF_CSRF_TIME_LIMIT": 8 * 3600,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
    # One drill or evidence file; the storage folder is ATTACHMENT_DIR or instance/attachments.
    "ATTACHMENT_MAX_BYTES": 10 * 1024 * 1024,
    "PAGE_SIZE": 50,
    # Share of villages a standardized shelter site must serve (Zhejiang: 60%).
    "SHELTER_COVERAGE_TARGET": 0.6,
    # A site not inspected for this many days is overdue (before each flood season).
    "SHELTER_INSPECTION_DAYS": 180,
}


def database_url(raw: str) -> str:
    """Use psycopg 3 for plain postgres:// and postgresql:// URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix) :]
    return raw


def _instance_secret(instance: Path) -> str:
    """A secret generated once into instance/ and reused, so sessions survive restarts."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def storage_dir() -> Path:
    """Where attachment bytes live: ATTACHMENT_DIR, or instance/attachments."""
    configured = current_app.config.get("ATTACHMENT_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "attachments"


def load_config(app: Flask, test_config: dict | None) -> None:
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(DEFAULTS)
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'readiness.db'}"
    app.config.from_prefixed_env("READINESS")
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if os.environ.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    if test_config:
        app.config.update(test_config)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    # The embedded SQLite file `make run` creates, the only database the demo goes into.
    app.config.setdefault(
        "EMBEDDED_DATABASE",
        app.config["SQLALCHEMY_DATABASE_URI"]
        == database_url(f"sqlite:///{instance / 'readiness.db'}"),
    )
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance)
    remember = app.config["REMEMBER_COOKIE_DURATION"]
    if not isinstance(remember, timedelta):
        remember = timedelta(seconds=int(remember))
    app.config["REMEMBER_COOKIE_DURATION"] = min(remember, REMEMBER_MAX)
    if app.config["BASE_URL"].startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
