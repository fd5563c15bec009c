"""Collective decisions on spending (三重一大, issue 20 item 5).

A bureau keeps its leadership group (领导班子): who sits, each one's post, and the head of
unit (主要负责人). A decision records the meeting: the date, the members present in the
order they spoke with the head of unit last (末位表态), each one's position, the matter, what
was decided, up to what amount, and the minutes as an attachment.

Any spending of the threshold or more (a purchase, a subsidy, a repair) is approved only
with a decision of the same bureau that approved it, whose amount still covers it: one
decision may cover several payments (the year's subsidies to the towns), never more than it
decided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from funding.models import (
    OUTCOMES,
    POSITIONS,
    Decision,
    DecisionAttendee,
    FundEntry,
    LeadershipMember,
    PurchaseRequest,
    Subsidy,
)
from funding.money import check_money, yuan
from readiness import audit, paging
from readiness.checks import check_past_date, check_text
from readiness.errors import Conflict, DomainError, NotFound, Refusals
from readiness.models import Unit, User
from readiness.permissions import bureau_of, require

SUBJECT_MAX = 200
DECISION_MAX = 2000
REMARK_MAX = 500
TITLE_MAX = 40
MEMBERS_MAX = 30


@dataclass(frozen=True)
class Policy:
    """The house rules for spending: the threshold of a collective decision (yuan) and the
    share of the leadership group that must sit."""

    threshold: Decimal
    quorum: Fraction

    @classmethod
    def of(cls, threshold, quorum) -> Policy:
        return cls(Decimal(str(threshold)), Fraction(str(quorum)))

    def needed(self, members: int) -> int:
        return max(1, math.ceil(members * self.quorum))


# Refused for one or more reasons at once (the core's, named for this package's callers).
Refused = Refusals


class Problems:
    """Collects refusals so that a form reports all of them together."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def check(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DomainError as err:
            self.items.append((err.field or "", err.message))
            return None

    def add(self, field: str, message: str) -> None:
        self.items.append((field, message))

    def raise_any(self) -> None:
        if self.items:
            raise Refused(self.items)


def bureau_for(session: Session, unit: Unit) -> Unit:
    """The bureau whose group, fund and decisions a unit's money belongs to."""
    return session.get(Unit, bureau_of(session, unit.id))


# ---------------------------------------------------------------- leadership group


def leadership(session: Session, bureau_id: int) -> list[LeadershipMember]:
    """The bureau's leadership group, the head of unit last."""
    return list(
        session.scalars(
            select(LeadershipMember)
            .where(LeadershipMember.unit_id == bureau_id)
            .options(selectinload(LeadershipMember.user))
            .order_by(LeadershipMember.is_head, LeadershipMember.id)
        )
    )


@dataclass(frozen=True)
class MemberInput:
    username: str
    title: str = ""
    is_head: bool = False


def set_leadership(
    session: Session, bureau: Unit, members: list[MemberInput], *, actor
) -> list[LeadershipMember]:
    """Command staff keep their bureau's leadership group: people with an account in the
    bureau, one of them the head of unit. The list replaces the one before."""
    bureau = bureau_for(session, bureau)
    require(session, actor, "decisions.record", bureau)
    problems = Problems()
    if not members:
        problems.add("members", _("请至少填写一名班子成员。"))
    if len(members) > MEMBERS_MAX:
        problems.add("members", _("班子成员不能超过 {n} 人。").format(n=MEMBERS_MAX))
    users: list[User] = []
    seen: set[str] = set()
    for n, member in enumerate(members):
        name = (member.username or "").strip()
        user = session.scalar(select(User).where(User.username == name)) if name else None
        if user is None or not user.is_active:
            problems.add(f"member-{n}", _("找不到在用账号：{name}").format(name=name or "—"))
            continue
        if user.unit_id is None or bureau_of(session, user.unit_id) != bureau.id:
            problems.add(
                f"member-{n}",
                _("{name} 不是 {bureau} 的人员。").format(
                    name=user.display_name, bureau=bureau.name
                ),
            )
            continue
        if name in seen:
            problems.add(f"member-{n}", _("成员重复：{name}").format(name=user.display_name))
            continue
        seen.add(name)
        problems.check(check_text, member.title, f"title-{n}", limit=TITLE_MAX, label=_("职务"))
        users.append(user)
    heads = [m for m in members if m.is_head]
    if members and len(heads) != 1:
        problems.add("head", _("请指定一名主要负责人（末位表态）。"))
    problems.raise_any()
    before = [
        {"user": m.user.username, "title": m.title, "head": m.is_head}
        for m in leadership(session, bureau.id)
    ]
    for old in session.scalars(
        select(LeadershipMember).where(LeadershipMember.unit_id == bureau.id)
    ):
        session.delete(old)
    session.flush()
    rows = []
    for user, member in zip(users, members, strict=True):
        row = LeadershipMember(
            unit_id=bureau.id, user_id=user.id, title=member.title.strip(), is_head=member.is_head
        )
        session.add(row)
        rows.append(row)
    session.flush()
    audit.record(
        session,
        actor,
        "leadership.set",
        object_type="units",
        object_id=bureau.id,
        unit_id=bureau.id,
        before={"members": before},
        after={
            "members": [
                {"user": u.username, "title": m.title.strip(), "head": m.is_head}
                for u, m in zip(users, members, strict=True)
            ]
        },
    )
    return rows


# ---------------------------------------------------------------- decisions


def record_decision(
    session: Session,
    unit: Unit,
    *,
    met_on,
    attendees: list[str],
    subject,
    decision,
    amount,
    policy: Policy,
    actor,
    outcome: str = "approved",
    positions: list[str | None] | None = None,
    remarks: list[str] | None = None,
    minutes: tuple[str, bytes] | None = None,
    storage_dir=None,
    today: date | None = None,
    request_key: str | None = None,
) -> Decision:
    """Record a collective decision of the unit's bureau: the members present in speaking
    order (a quorum of the group, the head of unit last), each one's position, the matter,
    the decision and the amount it covers."""
    today = today or date.today()
    bureau = bureau_for(session, unit)
    require(session, actor, "decisions.record", bureau)
    if request_key:
        earlier = session.scalar(select(Decision).where(Decision.request_key == request_key))
        if earlier is not None:
            return earlier
    problems = Problems()
    met = problems.check(check_past_date, met_on, "met_on", label=_("会议日期"), today=today)
    subject = problems.check(
        check_text, subject, "subject", limit=SUBJECT_MAX, required=True, label=_("决策事项")
    )
    text = problems.check(
        check_text, decision, "decision", limit=DECISION_MAX, required=True, label=_("决定内容")
    )
    amount = problems.check(check_money, amount, "amount", label=_("涉及金额"), positive=False)
    if outcome not in OUTCOMES:
        problems.add("outcome", _("表决结果只能是通过、不通过或暂缓。"))
    group = leadership(session, bureau.id)
    by_name = {m.user.username: m for m in group}
    if not group:
        problems.add(
            "attendees",
            _("{bureau} 尚未设置领导班子成员，请先在“班子成员”中设置。").format(bureau=bureau.name),
        )
    names = [str(a).strip() for a in attendees or [] if str(a).strip()]
    if group:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            problems.add(
                "attendees",
                _("不是本局班子成员：{names}").format(names="、".join(unknown)),
            )
        if len(set(names)) != len(names):
            problems.add("attendees", _("参会人员有重复。"))
        present = {n for n in names if n in by_name}
        needed = policy.needed(len(group))
        if len(present) < needed:
            problems.add(
                "attendees",
                _(
                    "到会 {n} 人，未达到班子成员 {total} 人中的 {needed} 人，会议不足法定人数。"
                ).format(n=len(present), total=len(group), needed=needed),
            )
        head = next(m for m in group if m.is_head) if any(m.is_head for m in group) else None
        if head is not None and (not names or names[-1] != head.user.username):
            problems.add(
                "attendees",
                _("主要负责人 {name} 应到会并最后表态（末位表态）。").format(
                    name=head.user.display_name
                ),
            )
    positions = list(positions) if positions else [None] * len(names)
    remarks = list(remarks) if remarks else [""] * len(names)
    if len(positions) != len(names) or len(remarks) != len(names):
        problems.add("positions", _("每位参会人员各有一项表态。"))
    elif any(p is not None and p not in POSITIONS for p in positions):
        problems.add("positions", _("表态只能是同意、不同意或保留意见。"))
    for n, remark in enumerate(remarks if len(remarks) == len(names) else []):
        problems.check(check_text, remark, f"remark-{n}", limit=REMARK_MAX, label=_("表态意见"))
    stored = None
    if minutes is not None:
        stored = problems.check(_checked_minutes, minutes)
    problems.raise_any()

    entry = Decision(
        unit_id=bureau.id,
        met_on=met,
        subject=subject,
        decision=text,
        outcome=outcome,
        amount=amount,
        members_total=len(group),
        recorded_by_id=getattr(actor, "id", None),
        request_key=request_key or None,
    )
    for seq, (name, position, remark) in enumerate(zip(names, positions, remarks, strict=True)):
        member = by_name[name]
        entry.attendees.append(
            DecisionAttendee(
                seq=seq + 1,
                user_id=member.user_id,
                name=member.user.display_name,
                title=member.title,
                is_head=member.is_head,
                position=position,
                remark=(remark or "").strip(),
            )
        )
    session.add(entry)
    session.flush()
    if stored is not None:
        _store_minutes(session, entry, stored, storage_dir)
    audit.record(
        session,
        actor,
        "decision.record",
        entry,
        unit_id=bureau.id,
        after=_snapshot(entry),
        summary=subject,
    )
    return entry


def _snapshot(entry: Decision) -> dict:
    return {
        "met_on": entry.met_on.isoformat(),
        "subject": entry.subject,
        "outcome": entry.outcome,
        "amount": str(entry.amount),
        "attendees": [[a.name, a.position] for a in entry.attendees],
        "minutes": entry.minutes_name,
    }


# ---------------------------------------------------------------- minutes

MINUTES_TYPES = {"pdf", "jpeg", "png"}
MINUTES_MAX_BYTES = 10 * 1024 * 1024


def _checked_minutes(minutes: tuple[str, bytes]) -> tuple[str, bytes, str, str]:
    from readiness.files import clean_filename, detect_type

    name, data = minutes
    kind = detect_type(data)
    if kind not in MINUTES_TYPES:
        raise DomainError(_("会议纪要只能是 PDF、JPEG 或 PNG 文件。"), field="minutes")
    if len(data) > MINUTES_MAX_BYTES:
        raise DomainError(_("会议纪要不能超过 10 MB。"), field="minutes")
    import hashlib

    return clean_filename(name, field="minutes"), data, kind, hashlib.sha256(data).hexdigest()


def _store_minutes(session: Session, entry: Decision, stored, storage_dir) -> None:
    from readiness.files import content_path, store

    name, data, kind, digest = stored
    store(session, content_path(storage_dir, digest), data)
    entry.minutes_name, entry.minutes_type, entry.minutes_sha256 = name, kind, digest


def attach_minutes(
    session: Session, entry: Decision, minutes: tuple[str, bytes], *, storage_dir, actor
) -> Decision:
    """Attach (or replace) the minutes of a decision; the old file stays in the audit log."""
    require(session, actor, "decisions.record", entry.unit_id)
    stored = _checked_minutes(minutes)
    before = {"minutes": entry.minutes_name, "sha256": entry.minutes_sha256}
    _store_minutes(session, entry, stored, storage_dir)
    audit.record(
        session,
        actor,
        "decision.minutes",
        entry,
        unit_id=entry.unit_id,
        before=before,
        after={"minutes": entry.minutes_name, "sha256": entry.minutes_sha256},
    )
    return entry


# ---------------------------------------------------------------- spending against a decision


def used_amounts(session: Session, decision_ids) -> dict[int, Decimal]:
    """What approved spending already drew on each decision: three grouped queries for any
    number of decisions (a list of decisions would otherwise ask three times a row)."""
    ids = set(decision_ids)
    out = dict.fromkeys(ids, Decimal("0"))
    if not ids:
        return out
    for decision_id, total in (
        *session.execute(
            select(PurchaseRequest.decision_id, func.sum(PurchaseRequest.approved_amount))
            .where(
                PurchaseRequest.decision_id.in_(ids),
                PurchaseRequest.status.in_(("approved", "partly")),
            )
            .group_by(PurchaseRequest.decision_id)
        ),
        *session.execute(
            select(Subsidy.decision_id, func.sum(Subsidy.amount))
            .where(Subsidy.decision_id.in_(ids), Subsidy.status == "approved")
            .group_by(Subsidy.decision_id)
        ),
        *session.execute(
            select(FundEntry.decision_id, func.sum(-FundEntry.amount))
            .where(
                FundEntry.decision_id.in_(ids),
                FundEntry.kind.in_(("repair", "allocation_subsidy")),
            )
            .group_by(FundEntry.decision_id)
        ),
    ):
        out[decision_id] += Decimal(total or 0)
    return out


def used_amount(session: Session, decision_id: int) -> Decimal:
    """What approved spending already drew on a decision."""
    return used_amounts(session, [decision_id])[decision_id]


def decision_needed(amount: Decimal, policy: Policy) -> Conflict:
    return Conflict(
        _(
            "该笔支出 {amount} 元达到“三重一大”集体决策标准（{threshold} 元），"
            "需先录入班子集体决策，批准时注明决策编号。"
        ).format(amount=yuan(amount), threshold=yuan(policy.threshold))
    )


def check_spending(
    session: Session, decision_ref, *, bureau_id: int, amount: Decimal, policy: Policy
) -> Decision | None:
    """The decision behind a spending: required from the threshold up (409 without one);
    when given, it must be the same bureau's, approved, and still cover the amount."""
    if decision_ref in (None, ""):
        if amount >= policy.threshold:
            raise decision_needed(amount, policy)
        return None
    try:
        decision_id = int(decision_ref)
    except (TypeError, ValueError):
        raise DomainError(_("集体决策编号必须是数字。"), field="decision") from None
    entry = session.get(Decision, decision_id) if 0 < decision_id < 2**31 else None
    if entry is None or entry.unit_id != bureau_id:
        raise NotFound(_("本局没有第 {id} 号集体决策。").format(id=decision_id), field="decision")
    if entry.outcome != "approved":
        raise Conflict(
            _("第 {id} 号集体决策的结果是“{outcome}”，不能据此批准支出。").format(
                id=entry.id, outcome=entry.outcome_label
            ),
            field="decision",
        )
    left = entry.amount - used_amount(session, entry.id)
    if amount > left:
        raise Conflict(
            _(
                "第 {id} 号集体决策决定金额 {total} 元，尚余 {left} 元，不足以支付 {amount} 元。"
            ).format(id=entry.id, total=yuan(entry.amount), left=yuan(left), amount=yuan(amount)),
            field="decision",
        )
    return entry


# Newest meeting first.
DECISION_ORDER = paging.Order(
    "decisions",
    paging.Key(date, Decision.met_on, descending=True),
    paging.Key(int, Decision.id, descending=True),
)


def decisions_query(unit_ids: set[int] | None):
    stmt = (
        select(Decision)
        .options(selectinload(Decision.attendees), selectinload(Decision.unit))
        .order_by(Decision.met_on.desc(), Decision.id.desc())
    )
    if unit_ids is not None:
        stmt = stmt.where(Decision.unit_id.in_(unit_ids))
    return stmt
