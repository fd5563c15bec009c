"""What a new password must be: the one rule for the pages, the API and the command line.

At least ``MIN_LENGTH`` characters, not the username (nor containing it), not one
character or a few repeated, and not in the list of common passwords shipped beside
this file (``common.txt``). Old passwords keep working; the rule applies when one is set.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask_babel import gettext as _

from readiness.errors import DomainError

MIN_LENGTH = 10
MAX_LENGTH = 128
MIN_DISTINCT = 4


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower case."""
    text = (Path(__file__).parent / "common.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def check_new_password(password: str | None, *, username: str, field: str = "password") -> None:
    """Raise DomainError naming ``field`` unless the password may be set for this user."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        raise DomainError(_("密码至少 {n} 位。").format(n=MIN_LENGTH), field=field)
    if len(password) > MAX_LENGTH:
        raise DomainError(_("密码不能超过 {n} 位。").format(n=MAX_LENGTH), field=field)
    lowered = password.lower()
    name = (username or "").strip().lower()
    if name and (lowered == name or (len(name) >= 3 and name in lowered)):
        raise DomainError(_("密码不能与用户名相同，也不能包含用户名。"), field=field)
    if len(set(lowered)) < MIN_DISTINCT:
        raise DomainError(_("密码至少要有 {n} 个不同的字符。").format(n=MIN_DISTINCT), field=field)
    if lowered in common_passwords():
        raise DomainError(_("这是常见密码，很容易被猜中，请换一个。"), field=field)
