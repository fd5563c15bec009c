"""The demo's warehouse safety rounds: Dengfeng's bureau keeps the daily, weekly and monthly
checklists; the central warehouse's keeper did the last two days' rounds and last week's
and last month's, but not yesterday's (overdue) — and last week found the moisture-proofing
failing, which is now a corrective action in the register."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory import rounds
from readiness import services as core
from readiness.models import User
from readiness.permissions import SYSTEM


def load(session: Session, today: date | None = None) -> None:
    """Checklists for DF and a few rounds of DF-WH (needs the demo's units and users)."""
    today = today or date.today()
    bureau = core.get_unit(session, "DF")
    warehouse = core.get_unit(session, "DF-WH")
    keeper = session.scalar(select(User).where(User.username == "keeper"))
    kept_since = datetime.combine(today - timedelta(days=400), time(9), tzinfo=UTC)
    templates = {}
    for frequency, items in rounds.DEFAULT_ITEMS.items():
        template = rounds.set_template(session, bureau, frequency, "\n".join(items), actor=SYSTEM)
        template.created_at = kept_since  # kept for more than a year
        templates[frequency] = items

    def round_(frequency: str, done_on: date, failures: dict[str, str] | None = None):
        failures = failures or {}
        rounds.record_round(
            session,
            warehouse,
            frequency=frequency,
            done_on=done_on,
            answers=[
                rounds.Answer(item, item not in failures, failures.get(item, ""))
                for item in templates[frequency]
            ],
            actor=keeper or SYSTEM,
            today=today,
        )

    for days_ago in (3, 2):
        round_("daily", today - timedelta(days=days_ago))
    last_week = rounds.previous_period("weekly", rounds.period_start("weekly", today))
    round_(
        "weekly", last_week + timedelta(days=4), {"防鼠防潮措施有效": "东侧墙角返潮，防潮垫破损"}
    )
    last_month = rounds.previous_period("monthly", rounds.period_start("monthly", today))
    round_("monthly", last_month + timedelta(days=27))
    session.flush()
