"""Money as people write it on a request to the finance bureau: yuan with two places, and the
amount in Chinese capital numerals (大写) the way 《会计基础工作规范》第五十二条 wants it.

Written here rather than taken from a library: the rule is thirty lines, tested against the
regulation's own examples, and the packages that convert numbers to Chinese (cn2an and the
like) bring a parser of free text we never need.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _

from readiness.checks import check_decimal
from readiness.errors import DomainError

CENT = Decimal("0.01")
# A bureau's money stays far below this; a typo of ten extra digits is refused, not stored.
MONEY_MAX = Decimal("9999999999.99")

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


def check_money(value, field: str, *, label, positive: bool = True) -> Decimal:
    """An amount in yuan: a number with at most two decimals, above zero unless told."""
    amount = check_decimal(value, field, places=2, maximum=MONEY_MAX, label=label)
    if positive and amount <= 0:
        raise DomainError(_("{field}必须大于零。").format(field=label), field=field)
    return amount.quantize(CENT)


def yuan(amount: Decimal | int | None) -> str:
    """12345.6 → "12,345.60" (as the tables show money)."""
    return f"{Decimal(amount or 0).quantize(CENT):,}"


def _group(n: int) -> str:
    """Up to four digits in capitals: 1005 → 壹仟零伍; runs of zeros inside read one 零."""
    out, zero = "", False
    for place in (3, 2, 1, 0):
        digit = n // 10**place % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS[digit] + _PLACES[place]
    return out


def _whole(n: int) -> str:
    groups: list[int] = []
    while n:
        n, group = divmod(n, 10000)
        groups.append(group)
    out, zero = "", False
    for index in reversed(range(len(groups))):
        group = groups[index]
        if group == 0:
            zero = bool(out)
            continue
        if out and (zero or group < 1000):
            out += "零"
        out += _group(group) + _GROUPS[index]
        zero = False
    return out


def capital(amount: Decimal | int) -> str:
    """The amount in capital numerals: 507800 → 伍拾万柒仟捌佰元整, 1680.32 →
    壹仟陆佰捌拾元叁角贰分, 107000.05 → 壹拾万柒仟元零伍分."""
    amount = Decimal(amount).quantize(CENT)
    if amount < 0:
        return "负" + capital(-amount)
    cents = int(amount * 100)
    whole, rest = divmod(cents, 100)
    jiao, fen = divmod(rest, 10)
    out = _whole(whole) + "元" if whole else ""
    if jiao:
        out += _DIGITS[jiao] + "角"
    elif fen and whole:
        out += "零"
    if fen:
        return out + _DIGITS[fen] + "分"
    return (out or "零元") + "整"
