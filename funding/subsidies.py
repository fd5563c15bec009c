"""Shelter subsidies (避灾安置场所补助, issue 20 item 7).

An inspection that writes a subsidy proposes it, in the same transaction: to the site's town,
counted in the inspection's year. Command staff of the bureau other than the proposer approve
it (from the threshold up only against a collective decision that still covers it) and it is
paid from the bureau's reserve fund at once; or they refuse it, saying why. The totals by
town and year are what the bureau reports (the demo's year: 50.78万元 to the towns).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from funding import fund
from funding.decisions import Policy, bureau_for, check_spending, used_amounts
from funding.models import Decision, Subsidy
from funding.money import CENT, yuan
from readiness import audit, paging
from readiness.checks import check_text
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import Unit
from readiness.permissions import require
from shelters.models import Inspection

REASON_MAX = 500
ZERO = Decimal("0.00")


def snapshot(subsidy: Subsidy) -> dict:
    return {
        "status": subsidy.status,
        "inspection": subsidy.inspection_id,
        "town": subsidy.unit_id,
        "year": subsidy.year,
        "amount": str(subsidy.amount),
        "decision": subsidy.decision_id,
        "fund_entry": subsidy.fund_entry_id,
        "reason": subsidy.reason,
    }


def _record(session, actor, action: str, subsidy: Subsidy, before=None, summary=""):
    audit.record(
        session,
        actor,
        f"subsidy.{action}",
        subsidy,
        unit_id=subsidy.unit_id,
        before=before,
        after=snapshot(subsidy),
        summary=summary,
    )


def _bump(session: Session, subsidy: Subsidy) -> None:
    subsidy_id = subsidy.id
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(
            _("第 {id} 号补助刚被他人处理，请刷新后查看。").format(id=subsidy_id)
        ) from None


def _expect_proposed(subsidy: Subsidy) -> None:
    if subsidy.status != "proposed":
        raise Conflict(
            _("第 {id} 号补助当前为“{status}”，不能再审批。").format(
                id=subsidy.id, status=subsidy.status_label
            )
        )


def _not_proposer(subsidy: Subsidy, actor) -> None:
    me = getattr(actor, "id", None)
    if me is not None and me == subsidy.proposed_by_id:
        raise PermissionDenied(_("补助由您提出，须由另一位指挥部人员审批。"))


def _check_version(subsidy: Subsidy, version: int | None) -> None:
    """A form shown at an older version is refused: someone decided in between."""
    if version is not None and version != subsidy.version:
        raise Conflict(_("第 {id} 号补助刚被他人处理，请刷新后查看。").format(id=subsidy.id))


# ---------------------------------------------------------------- proposing


def follow_inspection(session: Session, inspection: Inspection, *, actor) -> Subsidy | None:
    """Keep the subsidy an inspection proposes in step with it: proposed when it writes one
    (for the site's town, in the inspection's year), its amount followed while still
    proposed; an approved or refused subsidy's amount is not changed."""
    amount = Decimal(inspection.subsidy or 0).quantize(CENT)
    town_id = inspection.shelter.town_id
    subsidy = session.scalar(select(Subsidy).where(Subsidy.inspection_id == inspection.id))
    if subsidy is None and amount <= 0:
        return None
    require(session, actor, "subsidies.propose", town_id)
    if subsidy is None:
        subsidy = Subsidy(
            inspection_id=inspection.id,
            unit_id=town_id,
            year=inspection.inspected_on.year,
            amount=amount,
            status="proposed",
            proposed_by_id=getattr(actor, "id", None),
        )
        session.add(subsidy)
        session.flush()
        _record(session, actor, "propose", subsidy, summary=inspection.shelter.name)
        return subsidy
    if subsidy.amount == amount and subsidy.year == inspection.inspected_on.year:
        return subsidy
    if subsidy.status != "proposed":
        raise Conflict(
            _("该检查的补助已“{status}”（{amount} 元），不能再修改补助金额。").format(
                status=subsidy.status_label, amount=yuan(subsidy.amount)
            ),
            field="subsidy",
        )
    before = snapshot(subsidy)
    if amount <= 0:
        subsidy_id = subsidy.id
        session.delete(subsidy)
        session.flush()
        audit.record(
            session,
            actor,
            "subsidy.withdraw",
            object_type="shelter_subsidies",
            object_id=subsidy_id,
            unit_id=town_id,
            before=before,
        )
        return None
    subsidy.amount = amount
    subsidy.year = inspection.inspected_on.year
    _bump(session, subsidy)
    _record(session, actor, "amend", subsidy, before)
    return subsidy


# ---------------------------------------------------------------- deciding


def approve_subsidy(
    session: Session,
    subsidy: Subsidy,
    *,
    policy: Policy,
    actor,
    decision=None,
    booked_on=None,
    version: int | None = None,
    today: date | None = None,
) -> Subsidy:
    """Approve a proposed subsidy (not one's own) and pay it from the bureau's fund; from the
    threshold up only against a collective decision of the bureau that still covers it.
    Refused, changing nothing, when the fund is too low."""
    today = today or date.today()
    require(session, actor, "subsidies.approve", subsidy.unit_id)
    _check_version(subsidy, version)
    _expect_proposed(subsidy)
    _not_proposer(subsidy, actor)
    booked = fund.booked_on_date(booked_on, today)
    inspection = session.get(Inspection, subsidy.inspection_id)
    if booked < inspection.inspected_on:
        raise DomainError(
            _("拨付日期不能早于检查日期（{on}）。").format(on=inspection.inspected_on.isoformat()),
            field="booked_on",
        )
    bureau = bureau_for(session, subsidy.unit)
    entry = check_spending(
        session, decision, bureau_id=bureau.id, amount=subsidy.amount, policy=policy
    )
    left = fund.balance(session, bureau.id)
    if subsidy.amount > left:
        raise fund.too_low(bureau, subsidy.amount, left)
    before = snapshot(subsidy)
    subsidy.status = "approved"
    subsidy.decision_id = entry.id if entry else None
    subsidy.decided_by_id = getattr(actor, "id", None)
    subsidy.decided_at = utcnow()
    _bump(session, subsidy)
    paid = fund.spend(
        session,
        bureau,
        kind="subsidy",
        amount=subsidy.amount,
        booked_on=booked,
        actor=actor,
        obj=("shelter_subsidies", subsidy.id),
        reference=_("避灾安置场所补助第 {id} 号").format(id=subsidy.id),
        note=_("{town} {site}（{year} 年度）").format(
            town=subsidy.unit.name, site=inspection.shelter.name, year=subsidy.year
        ),
        decision_id=subsidy.decision_id,
    )
    subsidy.fund_entry_id = paid.id
    _bump(session, subsidy)
    _record(session, actor, "approve", subsidy, before, summary=inspection.shelter.name)
    return subsidy


def refuse_subsidy(
    session: Session, subsidy: Subsidy, reason, *, actor, version: int | None = None
) -> Subsidy:
    """Refuse a proposed subsidy (not one's own), saying why: nothing is paid."""
    require(session, actor, "subsidies.approve", subsidy.unit_id)
    _check_version(subsidy, version)
    _expect_proposed(subsidy)
    _not_proposer(subsidy, actor)
    reason = check_text(
        reason, "reason", limit=REASON_MAX, required=True, label=_("不予批准的理由")
    )
    before = snapshot(subsidy)
    subsidy.status = "refused"
    subsidy.reason = reason
    subsidy.decided_by_id = getattr(actor, "id", None)
    subsidy.decided_at = utcnow()
    _bump(session, subsidy)
    _record(session, actor, "refuse", subsidy, before, summary=reason)
    return subsidy


# ---------------------------------------------------------------- reading


# Newest inspection first.
SUBSIDY_ORDER = paging.Order(
    "subsidies",
    paging.Key(date, Inspection.inspected_on, descending=True),
    paging.Key(int, Subsidy.id, descending=True),
)


def subsidies_query(
    unit_ids: set[int] | None, *, year: int | None = None, status: str | None = None
):
    """Subsidies of the towns in reach, newest inspection first."""
    stmt = (
        select(Subsidy)
        .join(Inspection, Inspection.id == Subsidy.inspection_id)
        .options(
            selectinload(Subsidy.unit),
            selectinload(Subsidy.proposed_by),
            selectinload(Subsidy.decided_by),
            selectinload(Subsidy.decision),
        )
        .order_by(Inspection.inspected_on.desc(), Subsidy.id.desc())
    )
    if unit_ids is not None:
        stmt = stmt.where(Subsidy.unit_id.in_(unit_ids))
    if year is not None:
        stmt = stmt.where(Subsidy.year == year)
    if status is not None:
        stmt = stmt.where(Subsidy.status == status)
    return stmt


def inspections_of(session: Session, subsidies) -> dict[int, Inspection]:
    """The inspections (with their sites) the subsidies were proposed on, by id."""
    ids = {s.inspection_id for s in subsidies}
    if not ids:
        return {}
    rows = session.scalars(
        select(Inspection).where(Inspection.id.in_(ids)).options(selectinload(Inspection.shelter))
    )
    return {i.id: i for i in rows}


@dataclass
class Total:
    """One town's subsidies of one year: approved (and paid), and still awaiting approval."""

    unit: Unit
    year: int
    approved: Decimal = ZERO
    proposed: Decimal = ZERO
    count: int = 0


@dataclass
class YearTotal:
    year: int
    approved: Decimal = ZERO
    proposed: Decimal = ZERO


def totals(
    session: Session, unit_ids: set[int] | None, *, year: int | None = None
) -> tuple[list[Total], list[YearTotal]]:
    """The subsidies by town and year (newest year first, towns by code), and each year's
    sum over the towns. Refused ones count nowhere."""
    stmt = (
        select(
            Subsidy.unit_id, Subsidy.year, Subsidy.status, func.sum(Subsidy.amount), func.count()
        )
        .where(Subsidy.status.in_(("approved", "proposed")))
        .group_by(Subsidy.unit_id, Subsidy.year, Subsidy.status)
    )
    if unit_ids is not None:
        stmt = stmt.where(Subsidy.unit_id.in_(unit_ids))
    if year is not None:
        stmt = stmt.where(Subsidy.year == year)
    found = list(session.execute(stmt))
    units = {
        u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_({row[0] for row in found})))
    }
    by_key: dict[tuple[int, int], Total] = {}
    by_year: dict[int, YearTotal] = {}
    for unit_id, year_, status, amount, count in found:
        amount = Decimal(amount or 0).quantize(CENT)
        row = by_key.setdefault((unit_id, year_), Total(units[unit_id], year_))
        whole = by_year.setdefault(year_, YearTotal(year_))
        row.count += count
        if status == "approved":
            row.approved += amount
            whole.approved += amount
        else:
            row.proposed += amount
            whole.proposed += amount
    rows = sorted(by_key.values(), key=lambda t: (-t.year, t.unit.code))
    return rows, sorted(by_year.values(), key=lambda t: -t.year)


def years(session: Session, unit_ids: set[int] | None) -> list[int]:
    """The years with subsidies in reach, newest first."""
    stmt = select(Subsidy.year).distinct()
    if unit_ids is not None:
        stmt = stmt.where(Subsidy.unit_id.in_(unit_ids))
    return sorted(session.scalars(stmt), reverse=True)


def open_decisions(
    session: Session, bureau_ids: set[int]
) -> dict[int, list[tuple[Decision, Decimal]]]:
    """Per bureau, its approved collective decisions that still cover some spending, with
    what is left of each (newest meeting first)."""
    out: dict[int, list[tuple[Decision, Decimal]]] = defaultdict(list)
    if not bureau_ids:
        return out
    rows = session.scalars(
        select(Decision)
        .where(Decision.unit_id.in_(bureau_ids), Decision.outcome == "approved")
        .order_by(Decision.met_on.desc(), Decision.id.desc())
    ).all()
    used = used_amounts(session, [e.id for e in rows])
    for entry in rows:
        left = entry.amount - used[entry.id]
        if left > 0:
            out[entry.unit_id].append((entry, left))
    return out


def wan(amount: Decimal) -> str:
    """507800 → "50.78" (万元, as the reports write a year's total)."""
    return f"{(Decimal(amount) / 10000).quantize(CENT):,}"
