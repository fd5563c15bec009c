"""The inventory's own input check: a stock quantity (whole, below the sanity limit, and
above zero unless zero is allowed). Notes and decimals use the core checks
(``readiness.checks``), re-exported here for the callers that still import them from here."""

from __future__ import annotations

from flask_babel import gettext as _

from readiness.checks import NOTE_MAX, check_decimal, check_note, check_whole

__all__ = ["MAX_QTY", "NOTE_MAX", "check_decimal", "check_note", "check_qty"]

MAX_QTY = 1_000_000


def check_qty(value, *, field_name: str = "qty", allow_zero: bool = False) -> int:
    """A whole, positive (or zero) quantity below the sanity limit."""
    return check_whole(
        value, field_name, maximum=MAX_QTY, minimum=0 if allow_zero else 1, label=_("数量")
    )
