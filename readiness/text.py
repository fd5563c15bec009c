"""Characters no record may hold: what input refuses and what every export strips.

Control characters other than TAB, CR and LF (NUL breaks XLSX and PostgreSQL, the rest are
invisible), lone surrogates (a JSON ``"\\ud800"`` cannot be stored or encoded), the
bidirectional overrides and isolates that make text read differently from what it holds
("Trojan Source", U+202A–U+202E, U+2066–U+2069) and the non-characters U+FFFE/U+FFFF
(not allowed in XML, so not in XLSX).
"""

from __future__ import annotations

import re

UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff\ud800-\udfff]"
)


def first_unsafe(text: str) -> str | None:
    """The first character of ``text`` that no record may hold, or None."""
    match = UNSAFE.search(text)
    return match.group() if match else None


def describe(char: str) -> str:
    """How a refused character is named to the user: its code point, e.g. U+0000."""
    return f"U+{ord(char):04X}"


def strip_unsafe(text: str) -> str:
    """``text`` without the characters no record may hold (for exports of older records)."""
    return UNSAFE.sub("", text)
