"""Demo printers: the central warehouse's office laser printer (A4 3×8, a little off) and
its thermal printer (50×30, TSPL), and the Daye station's laser printer."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labels.models import PrinterProfile
from labels.services import save_profile
from readiness import services
from readiness.permissions import SYSTEM

# (unit code, name, layout, language, dpi, X mm, Y mm, scale %)
PRINTERS = [
    ("DF-WH", "保管室激光打印机", "a4-3x8", "pdf", 203, "0.8", "-0.5", "100"),
    ("DF-WH", "库区热敏打印机（TSC）", "thermal-50x30", "tspl", 203, "0", "0", "100"),
    ("DF-DAYE", "值班室喷墨打印机", "a4-2x5", "pdf", 203, "0", "1.2", "98.5"),
]


def load(session: Session) -> bool:
    """The demo printers, once (when no printer is recorded yet). Returns True if loaded."""
    if session.scalar(select(func.count()).select_from(PrinterProfile)):
        return False
    for unit_code, name, layout, output, dpi, x, y, scale in PRINTERS:
        save_profile(
            session,
            services.get_unit(session, unit_code),
            {
                "name": name,
                "layout": layout,
                "output": output,
                "dpi": dpi,
                "offset_x_mm": x,
                "offset_y_mm": y,
                "scale_pct": scale,
            },
            actor=SYSTEM,
        )
    return True
