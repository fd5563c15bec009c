"""Failed sign-ins counted per client address, per address and username, and per username.

The counts live in the database (`login_throttle`), the one store every gunicorn worker
already shares, and are written in the sign-in transaction itself. Typed usernames are
counted whether or not the account exists, so the throttle's answers reveal nothing about
which accounts exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from readiness.db import UTCDateTime
from readiness.models import LoginThrottle

# Bound the key length (the column holds 200); a longer value only shares a key with its prefix.
_MAX_ADDRESS = 64
_MAX_USERNAME = 100
# Rows removed per failure at most, so one sign-in never pays for a large backlog.
_PURGE_BATCH = 200


@dataclass(frozen=True)
class Limit:
    """`failures` within `window` block the key for `block`."""

    failures: int
    window: timedelta
    block: timedelta


@dataclass(frozen=True)
class Policy:
    """The three limits one sign-in attempt is counted against."""

    # One address guessing one account: shut out for a long while.
    pair: Limit
    # One address guessing many accounts.
    ip: Limit
    # Many addresses guessing one account: only a short pause, so a stranger cannot keep
    # the real owner (the administrator) out for long.
    account: Limit

    @classmethod
    def from_config(cls, config: Mapping) -> Policy:
        window = timedelta(minutes=int(config["LOGIN_LOCK_MINUTES"]))
        return cls(
            pair=Limit(int(config["LOGIN_MAX_FAILURES"]), window, window),
            ip=Limit(int(config["LOGIN_ADDRESS_MAX_FAILURES"]), window, window),
            account=Limit(
                int(config["LOGIN_ACCOUNT_MAX_FAILURES"]),
                window,
                timedelta(minutes=int(config["LOGIN_ACCOUNT_PAUSE_MINUTES"])),
            ),
        )

    def limit(self, kind: str) -> Limit:
        return getattr(self, kind)


@dataclass(frozen=True)
class Block:
    """A key that has just been blocked, for the audit log."""

    kind: str
    key: str
    address: str
    username: str
    failures: int
    minutes: int


def keys_for(address: str | None, username: str | None) -> dict[str, str]:
    """The throttle key of each kind for an attempt from `address` as `username`."""
    address = (address or "unknown")[:_MAX_ADDRESS]
    name = (username or "").strip().lower()[:_MAX_USERNAME]
    return {
        "ip": f"ip:{address}",
        "pair": f"pair:{address}|{name}",
        "account": f"account:{name}",
    }


def blocked_until(session: Session, keys: Mapping[str, str], now: datetime) -> datetime | None:
    """When the last of the blocks on these keys ends, or None if none is blocked now."""
    ends = session.scalars(
        select(LoginThrottle.blocked_until).where(
            LoginThrottle.key.in_(list(keys.values())), LoginThrottle.blocked_until > now
        )
    ).all()
    return max(ends, default=None)


def record_failure(
    session: Session,
    policy: Policy,
    address: str | None,
    username: str | None,
    now: datetime,
) -> list[Block]:
    """Count one failed sign-in against each key; returns the keys it has just blocked."""
    keys = keys_for(address, username)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    at_now = literal(now, UTCDateTime())
    blocks = []
    # Always the same key order, so two workers counting the same keys cannot deadlock.
    for kind, key in sorted(keys.items(), key=lambda pair: pair[1]):
        limit = policy.limit(kind)
        window_over = LoginThrottle.window_started_at <= now - limit.window
        # One atomic statement: concurrent workers neither lose a count nor collide on insert.
        session.execute(
            insert(LoginThrottle)
            .values(key=key, failures=1, window_started_at=now, blocked_until=None)
            .on_conflict_do_update(
                index_elements=[LoginThrottle.key],
                set_={
                    "failures": case((window_over, 1), else_=LoginThrottle.failures + 1),
                    "window_started_at": case(
                        (window_over, at_now), else_=LoginThrottle.window_started_at
                    ),
                },
            )
        )
        # Only the worker whose update matches blocks the key (and writes the audit entry).
        # The count starts again, so after a block the key has its full allowance again.
        blocked = session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key, LoginThrottle.failures >= limit.failures)
            .values(failures=0, window_started_at=now, blocked_until=now + limit.block)
            .execution_options(synchronize_session=False)
        )
        if blocked.rowcount:
            blocks.append(
                Block(
                    kind=kind,
                    key=key,
                    address=keys["ip"].removeprefix("ip:"),
                    username=keys["account"].removeprefix("account:"),
                    failures=limit.failures,
                    minutes=int(limit.block.total_seconds() // 60),
                )
            )
    purge(session, policy, now)
    return blocks


def clear(session: Session, key: str) -> None:
    """Forget the failures counted against one key."""
    session.execute(
        delete(LoginThrottle)
        .where(LoginThrottle.key == key)
        .execution_options(synchronize_session=False)
    )


def purge(session: Session, policy: Policy, now: datetime) -> None:
    """Remove rows whose window and block are both over, so the table stays small."""
    longest = max(policy.pair.window, policy.ip.window, policy.account.window)
    # SKIP LOCKED (PostgreSQL): never wait for a row another sign-in is counting.
    stale = (
        select(LoginThrottle.key)
        .where(
            LoginThrottle.window_started_at <= now - longest,
            or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until <= now),
        )
        .limit(_PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    session.execute(
        delete(LoginThrottle)
        .where(LoginThrottle.key.in_(stale))
        .execution_options(synchronize_session=False)
    )
