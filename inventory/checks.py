"""The inventory's own input check: a stock quantity (whole, below the sanity limit, and
above zero unless zero is allowed). Notes and decimals use the core checks
(``readiness.checks``) directly."""

from __future__ import annotations

from flask_babel import gettext as _

from readiness.checks import check_whole

MAX_QTY = 1_000_000


def check_qty(value, *, field_name: str = "qty", allow_zero: bool = False) -> int:
    """A whole, positive (or zero) quantity below the sanity limit."""
    return check_whole(
        value, field_name, maximum=MAX_QTY, minimum=0 if allow_zero else 1, label=_("数量")
    )
