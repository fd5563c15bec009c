"""The command dashboard: the figures behind the home page, gathered in a few queries.

Each section is None when the user's role may not open the page behind it, so the
page simply leaves that tile out. Unit-scoped roles (clerk, keeper) get the same
figures for their unit and the units below it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from drills import requirements
from inventory import counts, maintenance
from inventory.models import Allocation, Asset, Lot, Position
from inventory.shortfall import shortfall
from readiness import cache, collection_paused
from readiness.i18n import in_language
from readiness.models import AuditEntry, User
from readiness.permissions import can
from readiness.services import visible_unit_ids
from rectification import actions
from shelters import coverage, sites
from shelters.models import Shelter
from shelters.reports import percent, target_percent

WORST_GAPS = 8
# Command and administrator powers granted (or their passwords reset) this recently are
# listed for command staff: an administrator must not quietly make an approver.
POWER_DAYS = 30
POWER_ROLES = frozenset({"command", "admin"})
EXPIRY_DAYS = 90
BAND_ORDER = ("red", "amber", "green")


@dataclass(frozen=True)
class GapRow:
    unit_code: str
    unit_name: str
    item_code: str
    item_name: str
    uom: str
    on_hand: int
    required: int
    gap: int
    coverage: float
    band: str
    # the catalog's English (issue 22): the dashboard is cached for every reader
    item_name_en: str = ""
    uom_en: str = ""

    @property
    def shown_item_name(self) -> str:
        return in_language(self.item_name, self.item_name_en)

    @property
    def shown_uom(self) -> str:
        return in_language(self.uom, self.uom_en)


@dataclass(frozen=True)
class StockFigures:
    units_total: int  # units the standard asks something of
    units_below: int
    bands: dict[str, int]  # units by their worst item: red / amber / green
    worst: list[GapRow]
    budget_total: Decimal
    to_buy_total: Decimal


@dataclass(frozen=True)
class AllocationFigures:
    awaiting: int  # submitted, waiting for command's approval
    emergency_unapproved: int  # emergency requests sent before approval, still not approved


@dataclass(frozen=True)
class MaintenanceFigures:
    overdue: int  # services and function tests past their date
    out_of_service: int  # pieces that failed a function test and are not repaired yet


@dataclass(frozen=True)
class CountFigures:
    overdue: int
    holders: int  # units holding stock, which must be counted


@dataclass(frozen=True)
class ExpiryFigures:
    within_days: int
    expiring: int  # lots (unit × lot) expiring within the window, not yet expired
    expired: int


@dataclass(frozen=True)
class DrillFigures:
    year: int
    overdue: int  # requirement rows (unit × drill kind) overdue this year
    units_overdue: int
    actions_overdue: int


@dataclass(frozen=True)
class TownBar:
    code: str
    name: str
    villages: int
    covered: int
    coverage: float
    needed: int


@dataclass(frozen=True)
class ShelterFigures:
    target: Decimal
    villages: int
    covered: int
    coverage: float
    needed: int
    towns: list[TownBar]  # worst covered first
    attention: int  # sites with an unresolved defect

    @property
    def coverage_label(self) -> str:
        """As the coverage page writes it (58.3%)."""
        return percent(self.covered, self.villages)

    @property
    def target_label(self) -> str:
        return target_percent(self.target)


@dataclass(frozen=True)
class PowerChange:
    at: datetime
    by: str  # who did it, as the audit log wrote it
    user_id: int
    username: str
    kind: str  # "grant" (new account or role change) or "reset" (password set by admin)
    role: str  # the role it carries now


@dataclass
class Dashboard:
    today: date
    is_whole_area: bool
    scope_size: int | None  # units in reach; None for the whole area
    stock: StockFigures | None = None
    allocations: AllocationFigures | None = None
    counts: CountFigures | None = None
    maintenance: MaintenanceFigures | None = None
    expiry: ExpiryFigures | None = None
    drills: DrillFigures | None = None
    shelters: ShelterFigures | None = None
    powers: list[PowerChange] | None = None  # command staff only, never cached
    # set when the figures are the previous ones, handed out while the current ones are
    # computed for someone else (readiness.cache.cached_or_previous): when they were computed
    figures_from: datetime | None = None
    may: dict[str, bool] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not any(
            (
                self.stock,
                self.allocations,
                self.counts,
                self.maintenance,
                self.expiry,
                self.drills,
                self.shelters,
            )
        )


def stock_figures(session: Session, unit_ids: set[int] | None, *, today: date) -> StockFigures:
    """Units below standard, the worst gaps and the budget, from one run of the shortfall report."""
    report = shortfall(session, unit_ids=unit_ids, today=today)
    # rows come worst first (lowest coverage), so a unit's first row carries its worst band
    worst_band: dict[int, str] = {}
    for row in report.rows:
        if row.unit.id not in worst_band:
            worst_band[row.unit.id] = row.band
    bands = {b: 0 for b in BAND_ORDER}
    for band in worst_band.values():
        bands[band] += 1
    worst = [
        GapRow(
            r.unit.code,
            r.unit.name,
            r.item.code,
            r.item.name,
            r.item.uom,
            r.on_hand,
            r.required,
            r.gap,
            r.coverage,
            r.band,
            r.item.name_en,
            r.item.uom_en,
        )
        # ranked worst first: every row below standard comes before any at or above it
        for r in report.rows[:WORST_GAPS]
        if r.gap > 0
    ]
    return StockFigures(
        units_total=len(worst_band),
        units_below=report.units_below,
        bands=bands,
        worst=worst,
        budget_total=report.budget_total,
        to_buy_total=report.to_buy_total,
    )


def allocation_figures(session: Session, unit_ids: set[int] | None) -> AllocationFigures:
    """Requests waiting for approval and emergency dispatches not yet approved, in one query."""
    awaiting = Allocation.status == "submitted"
    emergency = (
        Allocation.is_emergency.is_(True)
        & Allocation.approved_at.is_(None)
        & Allocation.status.in_(("dispatched", "received"))
    )
    stmt = select(func.count().filter(awaiting), func.count().filter(emergency))
    stmt = stmt.select_from(Allocation).where(or_(awaiting, emergency))
    if unit_ids is not None:
        stmt = stmt.where(
            or_(Allocation.from_unit_id.in_(unit_ids), Allocation.to_unit_id.in_(unit_ids))
        )
    n_awaiting, n_emergency = session.execute(stmt).one()
    return AllocationFigures(int(n_awaiting or 0), int(n_emergency or 0))


def count_figures(session: Session, unit_ids: set[int] | None, *, today: date) -> CountFigures:
    due = counts.counts_due(session, unit_ids, today=today)
    return CountFigures(overdue=sum(1 for d in due if d.overdue), holders=len(due))


def maintenance_figures(
    session: Session, unit_ids: set[int] | None, *, today: date
) -> MaintenanceFigures:
    due = maintenance.due_rows(session, unit_ids, today=today)
    stopped = select(func.count()).select_from(Asset).where(Asset.status == "out_of_service")
    if unit_ids is not None:
        stopped = stopped.where(Asset.unit_id.in_(unit_ids))
    return MaintenanceFigures(
        overdue=sum(1 for d in due if d.overdue), out_of_service=session.scalar(stopped) or 0
    )


def expiry_figures(
    session: Session, unit_ids: set[int] | None, *, today: date, within_days: int = EXPIRY_DAYS
) -> ExpiryFigures:
    """The expiry report's rows counted in SQL: held lots expiring within N days, and expired."""
    horizon = today + timedelta(days=within_days)
    expired = Lot.expires_on <= today
    stmt = (
        select(func.count().filter(~expired), func.count().filter(expired))
        .select_from(Position)
        .join(Lot, Lot.id == Position.lot_id)
        .where(Position.qty > 0, Lot.expires_on.is_not(None), Lot.expires_on <= horizon)
    )
    if unit_ids is not None:
        stmt = stmt.where(Position.unit_id.in_(unit_ids))
    n_expiring, n_expired = session.execute(stmt).one()
    return ExpiryFigures(within_days, int(n_expiring or 0), int(n_expired or 0))


def drill_figures(session: Session, unit_ids: set[int] | None, *, today: date) -> DrillFigures:
    rows = requirements.compliance(session, today.year, unit_ids=unit_ids, today=today)
    late = [r for r in rows if r.status == "overdue"]
    overdue = actions.overdue_by(session, "unit", unit_ids=unit_ids, today=today)
    return DrillFigures(
        year=today.year,
        overdue=len(late),
        units_overdue=len({r.unit.id for r in late}),
        actions_overdue=sum(g.count for g in overdue),
    )


def shelter_figures(
    session: Session, unit_ids: set[int] | None, *, target: Decimal, unit_id: int | None = None
) -> ShelterFigures | None:
    """Coverage against the target, per town, and sites needing attention; None without towns.
    Each town is measured against the target in force for it (set by its bureau or a unit
    above, else ``target``); the whole against the one in force at ``unit_id``."""
    report, in_force = coverage.report_for(session, unit_ids, unit_id=unit_id, default=target)
    target = in_force.target
    if not report.towns:
        return None
    towns = sorted(
        (
            TownBar(t.town.code, t.town.name, t.villages, t.covered, t.coverage, t.needed)
            for t in report.towns
        ),
        key=lambda t: (t.coverage, -t.needed, t.code),
    )
    attention = select(func.count()).select_from(Shelter).where(sites.needs_attention())
    if unit_ids is not None:
        attention = attention.where(Shelter.town_id.in_(unit_ids))
    return ShelterFigures(
        target=Decimal(target),
        villages=report.villages,
        covered=report.covered,
        coverage=report.coverage,
        needed=report.needed,
        towns=towns,
        attention=int(session.scalar(attention) or 0),
    )


def power_changes(
    session: Session, *, today: date, days: int = POWER_DAYS, scope: set[int] | None = None
) -> list[PowerChange]:
    """Accounts given command or administrator powers, or whose such account had its
    password reset by an administrator, in the last ``days`` days; newest first. With a
    ``scope``, only accounts of those units, and administrators (who act everywhere)."""
    since = datetime.combine(today - timedelta(days=days), datetime.min.time(), UTC)
    rows = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.object_type == "users",
            AuditEntry.action.in_(("user.create", "user.update", "user.reset_password")),
            AuditEntry.at >= since,
        )
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    ).all()
    ids = {int(row.object_id) for row in rows if row.object_id.isdigit()}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    changes = []
    for row in rows:
        user = users.get(int(row.object_id)) if row.object_id.isdigit() else None
        if user is None or (scope is not None and user.unit_id not in (scope | {None})):
            continue
        before = (row.before or {}).get("role")
        after = (row.after or {}).get("role")
        if row.action == "user.reset_password":
            if user.role in POWER_ROLES:
                changes.append(
                    PowerChange(row.at, row.actor_name, user.id, user.username, "reset", user.role)
                )
        elif after in POWER_ROLES and after != before:
            changes.append(
                PowerChange(row.at, row.actor_name, user.id, user.username, "grant", after)
            )
    return changes


def gather(
    session: Session, actor, *, today: date, shelter_target: Decimal, use_cache: bool = True
) -> Dashboard:
    """Every figure this user may see, for their whole area or their unit subtree; computed
    once per state of the data for everyone with the same role and reach (readiness.cache)."""
    scope = visible_unit_ids(session, actor)
    if not use_cache:
        board = _gather(session, actor, scope, today, shelter_target)
    else:
        key = (
            "dashboard",
            actor.role,
            None if scope is None else frozenset(scope),
            today,
            Decimal(shelter_target),
        )
        board, figures_from = cache.cached_or_previous(
            session, key, lambda: _gather(session, actor, scope, today, shelter_target)
        )
        if figures_from is not None:
            board = replace(board, figures_from=figures_from)
    if actor.role == "command":
        # Read each time (one indexed query): a grant must show at once, whatever the cache.
        board = replace(board, powers=power_changes(session, today=today, scope=scope))
    return board


def _gather(session: Session, actor, scope, today: date, shelter_target: Decimal) -> Dashboard:
    with collection_paused():
        return _tiles(session, actor, scope, today, shelter_target)


def _tiles(session: Session, actor, scope, today: date, shelter_target: Decimal) -> Dashboard:
    board = Dashboard(
        today=today,
        is_whole_area=scope is None,
        scope_size=None if scope is None else len(scope),
    )
    board.may = {
        perm: can(session, actor, perm)
        for perm in (
            "reports.view",
            "allocations.view",
            "stock.view",
            "drills.view",
            "shelters.view",
        )
    }
    if board.may["reports.view"]:
        board.stock = stock_figures(session, scope, today=today)
        board.expiry = expiry_figures(session, scope, today=today)
    if board.may["allocations.view"]:
        board.allocations = allocation_figures(session, scope)
    if board.may["stock.view"]:
        board.counts = count_figures(session, scope, today=today)
        board.maintenance = maintenance_figures(session, scope, today=today)
    if board.may["drills.view"]:
        board.drills = drill_figures(session, scope, today=today)
    if board.may["shelters.view"]:
        board.shelters = shelter_figures(
            session, scope, target=shelter_target, unit_id=getattr(actor, "unit_id", None)
        )
    return board
