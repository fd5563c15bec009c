"""The fonts every PDF embeds: WenQuanYi Micro Hei from the repository (readiness/fonts/).

A PDF that only names a font (reportlab's CID font STSong-Light, or the standard
Helvetica and Courier) prints empty boxes wherever that font is not installed: a
printer driver, a print server, a PDF/A archive. So every PDF we make draws its
text in this TrueType collection, embedded as a subset of the glyphs used, and
never falls back to a font it does not carry. If the file is missing the PDF is
refused with a message instead of printed with boxes.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flask_babel import gettext as _

from readiness.errors import DomainError

FONT_FILE = Path(__file__).with_name("fonts") / "wqy-microhei.ttc"

# Registered names: the proportional face for all text, the monospaced one for codes.
BODY = "WQYMicroHei"
MONO = "WQYMicroHeiMono"

_lock = threading.Lock()


class FontMissing(DomainError):
    """The embedded font's file is missing or unreadable: no PDF can be made."""

    status = 503
    code = "font_missing"


def _load(name: str, subfont: int) -> None:
    """Register one face of the collection with reportlab, once per process."""
    from reportlab.pdfbase import pdfmetrics

    if name in pdfmetrics.getRegisteredFontNames():
        return
    with _lock:
        if name in pdfmetrics.getRegisteredFontNames():
            return
        from reportlab.pdfbase.ttfonts import TTFError, TTFont

        try:
            face = TTFont(name, str(FONT_FILE), subfontIndex=subfont)
        except (OSError, TTFError) as err:
            raise FontMissing(
                _(
                    "无法生成 PDF：内嵌中文字体文件 {path} 缺失或无法读取（{error}）。"
                    "为避免打印出空白方框，PDF 已停止生成；请系统管理员恢复该文件。"
                ).format(path=FONT_FILE, error=err)
            ) from err
        pdfmetrics.registerFont(face)


def register(*, mono: bool = False) -> str:
    """Register the body face (and the monospaced one when asked) with reportlab once;
    return the body font's name. Each face loaded costs ~20 MB, so reports load one."""
    _load(BODY, 0)
    if mono:
        _load(MONO, 1)
    return BODY
