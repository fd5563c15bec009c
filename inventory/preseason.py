"""Pre-season check (汛前检查, issue 20, item 2).

Command staff set their bureau's flood season for a year (its start, and how many days
before it the checks open, 30 by default) and keep a checklist; both apply to the units below
them, the nearest unit's winning. From the opening day each unit of the bureau that holds
equipment, and each station and warehouse, has its check for that season, once per unit and
year, opened when anyone looks at the checks. A check asks:

- a function test of each piece whose test falls due before the season starts (answered by
  recording the test, here or on the maintenance pages);
- a stocktake when the unit's last approved count will no longer be recent when the season
  starts (its count policy says the next count falls due before then): answered by a full
  count approved after the check opened;
- each lot it holds that has expired or will expire before the season starts (answered when
  it is disposed of — no longer in stock — or marked handled with what was done);
- each item of the checklist, passed or failed.

Until the check is complete, what has become due since it opened is added to it (nothing is
ever removed). A failure says why and becomes a corrective action of the register (source
``preseason``), due when the season starts (7 days when it has started). A check is complete
— recorded with who and when, audited — only when every item is answered and every failure
has its action; once complete it changes no more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from inventory import maintenance
from inventory.counts import counts_due
from inventory.models import Asset, Count, Lot, MaintenanceRecord, Position
from inventory.preseason_models import (
    FloodSeason,
    PreseasonCheck,
    PreseasonItem,
    PreseasonTemplate,
)
from inventory.rounds import ITEM_MAX, parse_items
from inventory.rounds import ITEMS_MAX as ITEMS_MAX
from readiness import audit, paging
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, Refusals
from readiness.i18n import is_english
from readiness.models import Unit, User
from readiness.permissions import SYSTEM, require, unit_ids_above
from rectification.actions import add_action, default_owner

DEFAULT_LEAD_DAYS = 30
LEAD_DAYS_MAX = 180
NOTE_MAX = 2000
ACTION_DUE_DAYS = 7
# Units that always have a check, holding equipment or not.
ALWAYS_CHECKED = ("station", "warehouse")
# What the demo (and a bureau starting out) keeps: what Dengfeng's report asks before the
# flood season.
DEFAULT_ITEMS = [
    "防汛物资专库储存、专人负责、专人发放落实到人",
    "救生衣、救生圈、雨衣雨靴数量与台账一致",
    "照明、通信设备电池电量充足",
    "冲锋舟、排水泵燃油和备件齐全",
    "应急值守和物资调拨联系表已更新",
]


class PreseasonRefused(Refusals):
    """Answers refused, every problem with its field (``readiness.errors.Refusals``)."""


# ---------------------------------------------------------------- seasons and checklists


def _date(raw, field: str) -> date:
    if isinstance(raw, date):
        return raw
    try:
        when = date.fromisoformat(str(raw or "").strip())
    except ValueError:
        raise DomainError(_("日期格式应为 YYYY-MM-DD。"), field=field) from None
    return when


def _lead_days(raw) -> int:
    if raw in (None, ""):
        return DEFAULT_LEAD_DAYS
    text = str(raw).strip()
    if isinstance(raw, bool) or not text.isdigit() or not 1 <= int(text) <= LEAD_DAYS_MAX:
        raise DomainError(
            _("提前天数必须是 1 到 {n} 的整数。").format(n=LEAD_DAYS_MAX), field="lead_days"
        )
    return int(text)


def season_for(session: Session, unit_id: int, year: int) -> FloodSeason | None:
    """The flood season in force at a unit in a year: its own, else the nearest unit's
    above it."""
    above = unit_ids_above(session, unit_id)
    rows = {
        s.unit_id: s
        for s in session.scalars(
            select(FloodSeason).where(FloodSeason.year == year, FloodSeason.unit_id.in_(above))
        )
    }
    return next((rows[u] for u in above if u in rows), None)


def set_season(session: Session, unit: Unit, starts_on, lead_days=None, *, actor) -> FloodSeason:
    """Command staff set when their bureau's flood season starts in a year and how many days
    before it the pre-season checks open; setting it again for the same year moves it."""
    require(session, actor, "standard.manage", unit)
    problems: list[tuple[str, str]] = []
    start = days = None
    try:
        start = _date(starts_on, "starts_on")
        if not 2000 <= start.year <= 2100:
            raise DomainError(_("汛期开始日期应在 2000 到 2100 年之间。"), field="starts_on")
    except DomainError as err:
        problems.append((err.field or "starts_on", err.message))
    try:
        days = _lead_days(lead_days)
    except DomainError as err:
        problems.append(("lead_days", err.message))
    if problems or start is None or days is None:
        raise PreseasonRefused(problems)
    row = session.scalar(
        select(FloodSeason).where(FloodSeason.unit_id == unit.id, FloodSeason.year == start.year)
    )
    before = {"starts_on": row.starts_on.isoformat(), "lead_days": row.lead_days} if row else None
    if row is None:
        row = FloodSeason(unit_id=unit.id, year=start.year)
        session.add(row)
    row.starts_on, row.lead_days = start, days
    row.set_by_id = getattr(actor, "id", None)
    row.set_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "flood_season.set",
        row,
        unit_id=unit.id,
        before=before,
        after={"starts_on": start.isoformat(), "lead_days": days},
    )
    return row


def template_for(session: Session, unit_id: int) -> PreseasonTemplate | None:
    """The pre-season checklist in force at a unit: its own, else the nearest unit's above."""
    above = unit_ids_above(session, unit_id)
    rows = {
        t.unit_id: t
        for t in session.scalars(
            select(PreseasonTemplate).where(PreseasonTemplate.unit_id.in_(above))
        )
    }
    return next((rows[u] for u in above if u in rows), None)


def set_template(session: Session, unit: Unit, items_text, *, actor) -> PreseasonTemplate | None:
    """Command staff keep a unit's pre-season checklist (one item a line) for the units below
    it; an empty list removes it and the checklist above applies again. Checks already open
    get the new items while they are not complete."""
    require(session, actor, "standard.manage", unit)
    items = parse_items(items_text)
    row = session.scalar(select(PreseasonTemplate).where(PreseasonTemplate.unit_id == unit.id))
    before = {"items": list(row.items)} if row else None
    if not items:
        if row is not None:
            session.delete(row)
        row = None
    else:
        if row is None:
            row = PreseasonTemplate(unit_id=unit.id)
            session.add(row)
        row.items = items
        row.set_by_id = getattr(actor, "id", None)
        row.set_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "preseason_template.set",
        object_type="preseason_templates",
        object_id=unit.code,
        unit_id=unit.id,
        before=before,
        after={"items": items} if items else None,
    )
    return row


# ---------------------------------------------------------------- opening checks


def _holders(session: Session, unit_ids: list[int]) -> set[int]:
    """The units among these that hold equipment: stock on hand or a piece."""
    stocked = select(Position.unit_id).where(Position.qty > 0, Position.unit_id.in_(unit_ids))
    pieces = select(Asset.unit_id).where(Asset.status != "retired", Asset.unit_id.in_(unit_ids))
    return set(session.scalars(stocked.union(pieces)))


def open_checks(
    session: Session, unit_ids: set[int] | None, *, today: date | None = None
) -> list[PreseasonCheck]:
    """Open the checks due by today among these units (None: all): a unit holding equipment,
    or a station or warehouse, whose season in force opens on or before today, once per
    unit and year. Returns the checks opened now."""
    today = today or date.today()
    years = (today.year, today.year + 1)
    seasons = list(session.scalars(select(FloodSeason).where(FloodSeason.year.in_(years))))
    opened_seasons = [s for s in seasons if s.opens_on <= today]
    if not opened_seasons:
        return []
    stmt = select(Unit).where(Unit.is_active.is_(True))
    if unit_ids is not None:
        stmt = stmt.where(Unit.id.in_(unit_ids))
    units = session.scalars(stmt.order_by(Unit.code)).all()
    if not units:
        return []
    parents = dict(session.execute(select(Unit.id, Unit.parent_id)).all())
    by_unit_year = {(s.unit_id, s.year): s for s in seasons}
    holders = _holders(session, [u.id for u in units])
    existing = set(
        session.execute(
            select(PreseasonCheck.unit_id, PreseasonCheck.year).where(
                PreseasonCheck.year.in_(years)
            )
        ).all()
    )
    opened: list[PreseasonCheck] = []
    for unit in units:
        if unit.kind not in ALWAYS_CHECKED and unit.id not in holders:
            continue
        chain, current = [], unit.id
        while current is not None and current not in chain:
            chain.append(current)
            current = parents.get(current)
        for year in years:
            season = next(
                (by_unit_year[(u, year)] for u in chain if (u, year) in by_unit_year), None
            )
            if season is None or season.opens_on > today or (unit.id, year) in existing:
                continue
            check = PreseasonCheck(unit_id=unit.id, season_id=season.id, year=year, opened_on=today)
            session.add(check)
            session.flush()
            audit.record(
                session,
                SYSTEM,
                "preseason.open",
                check,
                unit_id=unit.id,
                after={"year": year, "season_starts_on": season.starts_on.isoformat()},
            )
            opened.append(check)
    for check in opened:
        refresh(session, check, today=today)
    return opened


# ---------------------------------------------------------------- what a check asks


def _wording(kind: str) -> str:
    """How the check words what it asks of itself (a function test, a stocktake, an expired
    lot), in the current language."""
    if kind == "test":
        return _("{item} {serial} 功能测试（应于 {day} 前）")
    if kind == "lot":
        return _("{item} 批次 {lot}（{qty} {uom}）{day} 到期，汛前需处置")
    if kind == "count":
        return _("汛前全面盘库（上次盘库 {day}）")
    return _("汛前全面盘库（从未盘库）")


def _pattern(wording: str) -> re.Pattern:
    """A wording as a pattern that reads its values back out of a stored text."""
    parts = re.split(r"\{(\w+)\}", wording)
    return re.compile(
        "".join(
            re.escape(part) if n % 2 == 0 else f"(?P<{part}>.+?)" for n, part in enumerate(parts)
        )
        + "$"
    )


def shown_items(session: Session, check: PreseasonCheck) -> dict[int, str]:
    """What each item of a check asks, by position, as the reader reads it. The check keeps
    what it generated in Chinese (the records' language); in the English UI that text is
    worded again in English, with the item's English name and unit of measure, from the
    values the stored text holds. A text that no longer reads as generated (cut at its
    length, or a checklist item someone wrote) is shown as stored."""
    shown = {i.position: i.item for i in check.items}
    if not is_english():
        return shown
    generated = [i for i in check.items if i.kind in ("test", "lot", "count")]
    asset_ids = {i.asset_id for i in generated if i.asset_id}
    lot_ids = {i.lot_id for i in generated if i.lot_id}
    # the pieces' and lots' items in one query each, whatever the number of lines
    pieces = (
        {
            a.id: a.item
            for a in session.scalars(
                select(Asset).where(Asset.id.in_(asset_ids)).options(joinedload(Asset.item))
            )
        }
        if asset_ids
        else {}
    )
    lots = (
        {
            lot.id: lot.item
            for lot in session.scalars(
                select(Lot).where(Lot.id.in_(lot_ids)).options(joinedload(Lot.item))
            )
        }
        if lot_ids
        else {}
    )
    with force_locale("zh"):
        patterns = {k: _pattern(_wording(k)) for k in ("test", "lot", "count", "count_never")}
    for entry in generated:
        keys = ("count", "count_never") if entry.kind == "count" else (entry.kind,)
        for key in keys:
            found = patterns[key].match(entry.item)
            if found is None:
                continue
            values = found.groupdict()
            item = pieces.get(entry.asset_id) if key == "test" else lots.get(entry.lot_id)
            if "item" in values and item is not None:
                values["item"] = item.shown_name
            if "uom" in values and item is not None:
                values["uom"] = item.shown_uom
            shown[entry.position] = _wording(key).format(**values)
            break
    return shown


def _wanted(session: Session, check: PreseasonCheck, today: date) -> list[tuple]:
    """What the unit's check should ask now: (kind, text, asset_id, lot_id). The text is
    kept as asked, in Chinese (the records' language) whoever's page opened it."""
    with force_locale("zh"):
        return _wanted_zh(session, check, today)


def _wanted_zh(session: Session, check: PreseasonCheck, today: date) -> list[tuple]:
    unit, season = check.unit, check.season
    starts = season.starts_on
    out: list[tuple] = []
    for due in maintenance.due_rows(session, {unit.id}, today=starts, within_days=0):
        if due.kind != "function_test" or due.asset.unit_id != unit.id:
            continue
        text = _wording("test").format(
            item=due.asset.item.name, serial=due.asset.serial, day=due.due_on.isoformat()
        )
        out.append(("test", text[:ITEM_MAX], due.asset.id, None))
    for due in counts_due(session, {unit.id}, today=today):
        if due.unit.id == unit.id and (due.due_on is None or due.due_on < starts):
            text = (
                _wording("count").format(day=due.last_counted_on.isoformat())
                if due.last_counted_on
                else _wording("count_never")
            )
            out.append(("count", text, None, None))
    lots = session.execute(
        select(Lot, func.sum(Position.qty))
        .join(Position, Position.lot_id == Lot.id)
        .where(Position.unit_id == unit.id, Position.qty > 0, Lot.expires_on < starts)
        .group_by(Lot.id)
        .order_by(Lot.expires_on, Lot.id)
        .options(joinedload(Lot.item))
    ).all()
    for lot, qty in lots:
        text = _wording("lot").format(
            item=lot.item.name, lot=lot.code, qty=qty, uom=lot.item.uom, day=lot.expires_on
        )
        out.append(("lot", text[:ITEM_MAX], None, lot.id))
    template = template_for(session, unit.id)
    for item in template.items if template else []:
        out.append(("checklist", item, None, None))
    return out


def _key(kind: str, text: str, asset_id, lot_id) -> tuple:
    if kind == "test":
        return (kind, asset_id)
    if kind == "lot":
        return (kind, lot_id)
    if kind == "count":
        return (kind,)
    return (kind, text)


def refresh(session: Session, check: PreseasonCheck, *, today: date | None = None) -> None:
    """Bring an open check up to date: add what has become due since it opened, answer what
    was done elsewhere (a function test recorded on the maintenance pages, a full count
    approved, an expired lot no longer in stock), and complete it when all is answered."""
    if check.completed_at is not None:
        return
    today = today or date.today()
    # one refresh of a check at a time (PostgreSQL): the next one sees what this one added
    session.execute(
        select(PreseasonCheck.id).where(PreseasonCheck.id == check.id).with_for_update()
    )
    session.refresh(check)
    if check.completed_at is not None:
        return
    have = {_key(i.kind, i.item, i.asset_id, i.lot_id) for i in check.items}
    position = max((i.position for i in check.items), default=-1) + 1
    for kind, text, asset_id, lot_id in _wanted(session, check, today):
        if _key(kind, text, asset_id, lot_id) in have:
            continue
        have.add(_key(kind, text, asset_id, lot_id))
        session.add(
            PreseasonItem(
                check_id=check.id,
                position=position,
                kind=kind,
                item=text,
                asset_id=asset_id,
                lot_id=lot_id,
                note="",
            )
        )
        position += 1
    session.flush()
    session.refresh(check)
    with force_locale("zh"):  # notes and actions are records: in Chinese
        for item in check.items:
            if item.is_ok is None:
                _answered_elsewhere(session, check, item, today)
    session.flush()
    _complete_if_done(session, check, None)


def _answered_elsewhere(
    session: Session, check: PreseasonCheck, item: PreseasonItem, today: date
) -> None:
    if item.kind == "test":
        record = session.scalar(
            select(MaintenanceRecord)
            .where(
                MaintenanceRecord.asset_id == item.asset_id,
                MaintenanceRecord.kind == "function_test",
                MaintenanceRecord.done_on >= check.opened_on,
            )
            .order_by(MaintenanceRecord.done_on.desc(), MaintenanceRecord.id.desc())
            .limit(1)
        )
        if record is not None:
            note = record.note or record.readings or ""
            if record.result == "fail" and not note:
                note = _("功能测试故障")
            by = session.get(User, record.recorded_by_id) if record.recorded_by_id else None
            _answer(session, check, item, record.result == "pass", note, by, today)
            item.record_id = record.id
            item.answered_at = record.recorded_at
            return
        asset = item.asset
        if asset.unit_id != check.unit_id or asset.status == "retired":
            _answer(session, check, item, True, _("该设备已调出或报废，无需测试。"), None, today)
    elif item.kind == "count":
        count = session.scalar(
            select(Count)
            .where(
                Count.unit_id == check.unit_id,
                Count.status == "approved",
                Count.is_spot.is_(False),
                Count.is_partial.is_(False),
                Count.decided_at >= check.opened_at,
            )
            .order_by(Count.decided_at.desc())
            .limit(1)
        )
        if count is not None:
            by = session.get(User, count.decided_by_id) if count.decided_by_id else None
            note = _("盘库 #{id} 已于 {day} 审批通过。").format(
                id=count.id, day=count.decided_at.date().isoformat()
            )
            _answer(session, check, item, True, note, by, today)
            item.count_id = count.id
            item.answered_at = count.decided_at
    elif item.kind == "lot":
        held = session.scalar(
            select(func.coalesce(func.sum(Position.qty), 0)).where(
                Position.unit_id == check.unit_id, Position.lot_id == item.lot_id
            )
        )
        if not held:
            _answer(session, check, item, True, _("该批次已不在库（已处置）。"), None, today)


def _answer(
    session: Session,
    check: PreseasonCheck,
    item: PreseasonItem,
    ok: bool,
    note: str,
    actor,
    today: date,
) -> None:
    """Record one item's answer; a failure becomes a corrective action."""
    item.is_ok = ok
    item.note = note
    item.answered_at = utcnow()
    item.answered_by_id = getattr(actor, "id", None)
    if not ok:
        unit = check.unit
        starts = check.season.starts_on
        due = starts if starts > today else today + timedelta(days=ACTION_DUE_DAYS)
        with force_locale("zh"):
            text = _("{year} 年汛前检查：{item}——{note}").format(
                year=check.year, item=item.item, note=note
            )
        item.action = add_action(
            session,
            source="preseason",
            text=text,
            unit=unit,
            owner=default_owner(session, unit, actor),
            due_on=due,
            actor=actor or SYSTEM,
            audit_after={"preseason_check": check.id, "item": item.position},
        )


def _complete_if_done(session: Session, check: PreseasonCheck, actor) -> bool:
    """Complete a check whose every item is answered and every failure has its action."""
    if check.completed_at is not None or not check.items:
        return check.completed_at is not None
    if any(i.is_ok is None or (i.is_ok is False and i.action_id is None) for i in check.items):
        return False
    if actor is None:
        # completed by what was done elsewhere: by whoever answered it last
        last = max(check.items, key=lambda i: (i.answered_at or datetime.min, i.position))
        actor = session.get(User, last.answered_by_id) if last.answered_by_id else SYSTEM
    check.completed_at = utcnow()
    check.completed_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(
        session,
        actor,
        "preseason.complete",
        check,
        unit_id=check.unit_id,
        after={
            "year": check.year,
            "items": check.total,
            "failed": [i.item for i in check.items if i.is_ok is False],
        },
    )
    return True


# ---------------------------------------------------------------- answering


@dataclass(frozen=True)
class Answer:
    """One item's answer, by its position in the check: ``ok`` True (合格, or a lot
    handled), False (不合格), None (left unanswered this time)."""

    position: int
    ok: bool | None
    note: str = ""


def answer_items(
    session: Session,
    check: PreseasonCheck,
    answers: list[Answer],
    *,
    actor,
    today: date | None = None,
) -> PreseasonCheck:
    """A keeper or clerk answers items of their unit's check: a function test is recorded
    as a test of the piece, a handled lot says what was done, a failure says why and becomes
    a corrective action. Items may be answered a few at a time; an answer stands once given.
    Every refusal is given at once and nothing is written."""
    today = today or date.today()
    require(session, actor, "stock.write", check.unit)
    if check.completed_at is not None:
        raise Conflict(_("该单位的汛前检查已完成，不能再修改。"), field="answers")
    by_position = {i.position: i for i in check.items}
    problems: list[tuple[str, str]] = []
    given: dict[int, Answer] = {}
    for answer in answers:
        item = by_position.get(answer.position) if isinstance(answer.position, int) else None
        if item is None:
            problems.append(("answers", _("检查中没有第 {n} 项。").format(n=answer.position)))
            continue
        if answer.position in given:
            problems.append(("answers", _("这一项回答了两次：{item}").format(item=item.item)))
            continue
        if answer.ok is None:
            continue
        n = item.position
        note = (answer.note or "").strip()
        if item.is_ok is not None:
            problems.append((f"item-{n}", _("这一项已经回答过：{item}").format(item=item.item)))
        elif item.kind == "count":
            problems.append(
                (
                    f"item-{n}",
                    _("盘库项在本单位的全面盘库审批通过后自动完成：{item}").format(item=item.item),
                )
            )
        elif len(note) > NOTE_MAX:
            problems.append(
                (f"note-{n}", _("说明不能超过 {n} 个字：{item}").format(n=NOTE_MAX, item=item.item))
            )
        elif not answer.ok and not note:
            problems.append((f"note-{n}", _("不合格项请写明问题：{item}").format(item=item.item)))
        elif item.kind == "lot" and not note:
            problems.append(
                (
                    f"note-{n}",
                    _("请写明如何处置（报废、送检、调换）：{item}").format(item=item.item),
                )
            )
        elif item.kind == "test" and (item.asset.unit_id is None or item.asset.status == "retired"):
            problems.append((f"item-{n}", _("该设备已报废或已出库：{item}").format(item=item.item)))
        else:
            given[n] = Answer(n, answer.ok, note)
    if not problems and not given:
        problems.append(("answers", _("请至少回答一项。")))
    if problems:
        raise PreseasonRefused(problems)
    for n, answer in sorted(given.items()):
        item = by_position[n]
        if item.kind == "test":
            record = maintenance.record(
                session,
                item.asset,
                kind="function_test",
                done_on=today,
                result="pass" if answer.ok else "fail",
                note=answer.note,
                actor=actor,
                today=today,
            )
            item.record_id = record.id
        _answer(session, check, item, bool(answer.ok), answer.note, actor, today)
    session.flush()
    audit.record(
        session,
        actor,
        "preseason.answer",
        check,
        unit_id=check.unit_id,
        after={
            "answered": [by_position[n].item for n in sorted(given)],
            "failed": [by_position[n].item for n in sorted(given) if not given[n].ok],
        },
    )
    _complete_if_done(session, check, actor)
    return check


# ---------------------------------------------------------------- progress


@dataclass(frozen=True)
class Progress:
    check: PreseasonCheck
    overdue: bool

    @property
    def unit(self) -> Unit:
        return self.check.unit

    @property
    def status(self) -> str:
        if self.check.is_complete:
            return "complete"
        if not self.check.items:
            return "empty"
        return "overdue" if self.overdue else "open"


def checks_query(unit_ids: set[int] | None, year: int | None = None):
    stmt = select(PreseasonCheck).options(
        joinedload(PreseasonCheck.unit),
        joinedload(PreseasonCheck.season),
        selectinload(PreseasonCheck.items),
    )
    if unit_ids is not None:
        stmt = stmt.where(PreseasonCheck.unit_id.in_(unit_ids))
    if year is not None:
        stmt = stmt.where(PreseasonCheck.year == year)
    return stmt


def bring_up_to_date(session: Session, unit_ids: set[int] | None, *, today: date) -> None:
    """Open what is due and refresh the open checks of these units (None: all)."""
    open_checks(session, unit_ids, today=today)
    stmt = select(PreseasonCheck).where(
        PreseasonCheck.completed_at.is_(None),
        or_(PreseasonCheck.year == today.year, PreseasonCheck.year == today.year + 1),
    )
    if unit_ids is not None:
        stmt = stmt.where(PreseasonCheck.unit_id.in_(unit_ids))
    for check in session.scalars(stmt).all():
        refresh(session, check, today=today)


def progress_rows(
    session: Session, unit_ids: set[int] | None, *, year: int, today: date | None = None
) -> list[Progress]:
    """Each unit's check of a season year in these units (None: all): answered of total,
    failures, complete, and overdue — the season has started and it is not complete.
    Overdue first, then open, then complete, by unit."""
    today = today or date.today()
    checks = session.scalars(checks_query(unit_ids, year)).unique().all()
    rows = [
        Progress(c, overdue=bool(c.items) and not c.is_complete and c.season.starts_on <= today)
        for c in checks
    ]
    rows.sort(key=progress_key)
    return rows


_STATUS_RANK = {"overdue": 0, "open": 1, "empty": 2, "complete": 3}


def progress_key(row: Progress) -> tuple:
    """Where a progress row sorts: overdue first, then open, then complete, by unit (the
    check's id settles ties, so that the list pages by it: see ``PROGRESS_ORDER``)."""
    return (_STATUS_RANK[row.status], row.unit.code, row.check.id)


PROGRESS_ORDER = paging.Order("preseason", paging.Key(int), paging.Key(str), paging.Key(int))


def current_year(session: Session, today: date) -> int:
    """The season year people mean now: next year's once a season of it has opened (a
    season starting early in the year opens in December), else this year's."""
    for season in session.scalars(select(FloodSeason).where(FloodSeason.year == today.year + 1)):
        if season.opens_on <= today:
            return today.year + 1
    return today.year


def seasons_in_reach(session: Session, unit_ids: set[int] | None, year: int) -> list[FloodSeason]:
    """The seasons set for a year by these units (None: all)."""
    stmt = select(FloodSeason).where(FloodSeason.year == year).options(joinedload(FloodSeason.unit))
    if unit_ids is not None:
        stmt = stmt.where(FloodSeason.unit_id.in_(unit_ids))
    return list(session.scalars(stmt.order_by(FloodSeason.starts_on)))


def out_of_reach() -> str:
    return _("您只能查看或记录本单位及下级单位的汛前检查。")


def not_found(check_id) -> str:
    return _("汛前检查第 {id} 号不存在。").format(id=check_id)


def one_line_message() -> str:
    return _("每个检查项只能是一行。")
