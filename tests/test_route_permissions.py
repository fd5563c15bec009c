"""Every route × every role (and anonymous): allowed or refused exactly as the table says.

The table below is the expectation, written independently of the code. A route
that is served but missing from the table fails ``test_every_route_is_in_the_table``,
so nobody can add a page or endpoint without deciding who may use it.
"""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from readiness import create_app
from readiness.extensions import db
from tests.conftest import (
    BACKEND,
    PASSWORD,
    _base_config,
    csrf_token,
    database_rows,
    empty_postgresql,
)

ROLES = ("clerk", "keeper", "command", "inspector", "admin")
ALL = frozenset(ROLES)
READ_ALL = frozenset({"command", "inspector", "admin"})
ADMIN = frozenset({"admin"})
STOCK_READERS = frozenset({"clerk", "keeper", "command", "inspector"})
WRITERS = frozenset({"clerk", "keeper"})
APPROVERS = frozenset({"keeper", "command"})
COMMAND = frozenset({"command"})
READERS = frozenset({"command", "inspector"})
REQUESTERS = frozenset({"clerk", "keeper", "command"})
PUBLIC = "public"

# (endpoint, method) -> roles allowed, or PUBLIC (anyone, signed in or not).
EXPECTED: dict[tuple[str, str], frozenset[str] | str] = {
    ("main.home", "GET"): ALL,
    ("search.results", "GET"): ALL,
    ("main.language", "POST"): PUBLIC,
    ("auth.login", "GET"): PUBLIC,
    ("auth.login", "POST"): PUBLIC,
    ("auth.logout", "POST"): PUBLIC,
    ("auth.change_password", "GET"): ALL,
    ("auth.change_password", "POST"): ALL,
    ("auth.tokens", "GET"): ALL,
    ("auth.tokens", "POST"): ALL,
    ("admin.units", "GET"): ALL,
    ("admin.unit_detail", "GET"): ALL,
    ("admin.unit_new", "GET"): ADMIN,
    ("admin.unit_new", "POST"): ADMIN,
    ("admin.unit_edit", "GET"): ADMIN,
    ("admin.unit_edit", "POST"): ADMIN,
    ("admin.unit_activate", "POST"): ADMIN,
    ("admin.unit_deactivate", "POST"): ADMIN,
    ("admin.users", "GET"): READ_ALL,
    ("admin.user_detail", "GET"): READ_ALL,
    ("admin.user_new", "GET"): ADMIN,
    ("admin.user_new", "POST"): ADMIN,
    ("admin.user_edit", "GET"): ADMIN,
    ("admin.user_edit", "POST"): ADMIN,
    ("admin.user_activate", "POST"): ADMIN,
    ("admin.user_deactivate", "POST"): ADMIN,
    ("admin.user_reset_password", "POST"): ADMIN,
    ("admin.user_revoke_tokens", "POST"): ADMIN,
    ("audit.index", "GET"): READ_ALL,
    ("audit.export_csv", "GET"): READ_ALL,
    ("api.openapi_json", "GET"): PUBLIC,
    ("api.me", "GET"): ALL,
    ("api.list_units", "GET"): ALL,
    ("api.get_unit", "GET"): ALL,
    ("api.create_unit", "POST"): ADMIN,
    # inventory pages
    ("inventory.items", "GET"): ALL,
    ("inventory.item_new", "GET"): ADMIN,
    ("inventory.item_new", "POST"): ADMIN,
    ("inventory.item_edit", "GET"): ADMIN,
    ("inventory.item_edit", "POST"): ADMIN,
    ("inventory.standard", "GET"): STOCK_READERS,
    ("inventory.standard_new", "GET"): COMMAND,
    ("inventory.standard_new", "POST"): COMMAND,
    ("inventory.requirements", "GET"): STOCK_READERS,
    ("inventory.requirements", "POST"): COMMAND,
    ("inventory.stock_index", "GET"): STOCK_READERS,
    ("inventory.unit_stock", "GET"): STOCK_READERS,
    ("inventory.record", "GET"): WRITERS,
    ("inventory.record", "POST"): WRITERS,
    ("inventory.item_history", "GET"): STOCK_READERS,
    ("inventory.asset_status", "POST"): WRITERS,
    ("inventory.ledger", "GET"): STOCK_READERS,
    ("inventory.counts", "GET"): STOCK_READERS,
    ("inventory.count_start", "POST"): WRITERS,
    ("inventory.count_start_picked", "POST"): WRITERS,
    ("inventory.count_detail", "GET"): STOCK_READERS,
    ("inventory.count_enter", "POST"): WRITERS,
    ("inventory.count_submit", "POST"): WRITERS,
    ("inventory.count_approve", "POST"): APPROVERS,
    ("inventory.count_return", "POST"): APPROVERS,
    ("inventory.count_cancel", "POST"): WRITERS,
    ("inventory.count_intervals", "GET"): COMMAND,
    ("inventory.count_intervals", "POST"): COMMAND,
    ("inventory.shortfall_report", "GET"): STOCK_READERS,
    ("inventory.expiry_report", "GET"): STOCK_READERS,
    # inventory API
    ("inventory_api.list_items", "GET"): ALL,
    ("inventory_api.create_item", "POST"): ADMIN,
    ("inventory_api.put_item", "PUT"): ADMIN,
    ("inventory_api.get_standard", "GET"): STOCK_READERS,
    ("inventory_api.put_standard", "PUT"): COMMAND,
    ("inventory_api.create_movement", "POST"): WRITERS,
    ("inventory_api.get_stock", "GET"): STOCK_READERS,
    ("inventory_api.create_count", "POST"): WRITERS,
    ("inventory_api.get_count", "GET"): STOCK_READERS,
    ("inventory_api.approve_count", "POST"): APPROVERS,
    ("inventory_api.return_count", "POST"): APPROVERS,
    ("inventory_api.shortfall_report", "GET"): STOCK_READERS,
    ("inventory_api.expiry_report", "GET"): STOCK_READERS,
    # allocations
    ("allocations.index", "GET"): STOCK_READERS,
    ("allocations.new", "GET"): REQUESTERS,
    ("allocations.new", "POST"): REQUESTERS,
    ("allocations.from_suggestion", "POST"): REQUESTERS,
    ("allocations.detail", "GET"): STOCK_READERS,
    ("allocations.submit", "POST"): REQUESTERS,
    ("allocations.edit_lines", "POST"): REQUESTERS,
    ("allocations.approve", "POST"): COMMAND,
    ("allocations.reject", "POST"): COMMAND,
    ("allocations.dispatch", "POST"): WRITERS,
    ("allocations.receive", "POST"): WRITERS,
    ("allocations.cancel", "POST"): REQUESTERS,
    ("allocations.slip", "GET"): STOCK_READERS,
    ("allocations_api.create", "POST"): REQUESTERS,
    ("allocations_api.get", "GET"): STOCK_READERS,
    ("allocations_api.submit", "POST"): REQUESTERS,
    ("allocations_api.set_draft_lines", "PUT"): REQUESTERS,
    ("allocations_api.approve", "POST"): COMMAND,
    ("allocations_api.reject", "POST"): COMMAND,
    ("allocations_api.dispatch", "POST"): WRITERS,
    ("allocations_api.receive", "POST"): WRITERS,
    ("allocations_api.cancel", "POST"): REQUESTERS,
    # drills
    ("drills.index", "GET"): STOCK_READERS,
    ("drills.new", "GET"): REQUESTERS,
    ("drills.new", "POST"): REQUESTERS,
    ("drills.detail", "GET"): STOCK_READERS,
    ("drills.edit", "GET"): REQUESTERS,
    ("drills.edit", "POST"): REQUESTERS,
    ("drills.evaluate", "POST"): REQUESTERS,
    ("drills.advance", "POST"): REQUESTERS,
    ("drills.finding_add", "POST"): REQUESTERS,
    ("drills.action_cancel", "POST"): COMMAND,
    ("drills.actions", "GET"): STOCK_READERS,
    ("drills.action_detail", "GET"): STOCK_READERS,
    ("drills.action_start", "POST"): STOCK_READERS,
    ("drills.action_done", "POST"): STOCK_READERS,
    ("drills.action_due", "POST"): STOCK_READERS,
    ("drills.action_verify", "POST"): frozenset({"command", "inspector"}),
    ("drills.action_return", "POST"): frozenset({"command", "inspector"}),
    ("drills.action_extension_approve", "POST"): frozenset({"command", "inspector"}),
    ("drills.action_extension_reject", "POST"): frozenset({"command", "inspector"}),
    ("drills.compliance", "GET"): STOCK_READERS,
    ("drills.requirements", "GET"): COMMAND,
    ("drills.requirements", "POST"): COMMAND,
    ("drills.kind_save", "POST"): COMMAND,
    ("drills.training", "GET"): STOCK_READERS,
    ("drills.training_add", "POST"): REQUESTERS,
    ("drills.certificate_add", "POST"): REQUESTERS,
    ("drills_api.create_drill", "POST"): REQUESTERS,
    ("drills_api.get_drill", "GET"): STOCK_READERS,
    ("drills_api.drill_status", "POST"): REQUESTERS,
    ("drills_api.action_cancel", "POST"): COMMAND,
    ("drills_api.put_requirements", "PUT"): COMMAND,
    ("drills_api.drill_compliance", "GET"): STOCK_READERS,
    ("drills_api.list_actions", "GET"): STOCK_READERS,
    ("drills_api.action_done", "POST"): REQUESTERS,
    ("drills_api.action_verify", "POST"): frozenset({"command", "inspector"}),
    ("drills_api.action_return", "POST"): frozenset({"command", "inspector"}),
    # the owner or a writer of the unit asks (the service refuses anyone else: 403)
    ("drills_api.action_extension", "POST"): REQUESTERS,
    ("drills_api.action_extension_approve", "POST"): frozenset({"command", "inspector"}),
    ("drills_api.action_extension_reject", "POST"): frozenset({"command", "inspector"}),
    ("drill_attachments.upload", "POST"): REQUESTERS,
    ("drill_attachments.download", "GET"): STOCK_READERS,
    ("drill_attachments_api.upload", "POST"): REQUESTERS,
    ("drill_attachments_api.download", "GET"): STOCK_READERS,
    ("drills_package.package", "GET"): STOCK_READERS,
    ("drills_package_api.drill_package", "GET"): STOCK_READERS,
    # labels
    ("labels.scan", "GET"): STOCK_READERS,
    ("labels.scan_count", "POST"): WRITERS,
    ("labels.scan_move", "POST"): WRITERS,
    ("labels.scan_box", "GET"): STOCK_READERS,
    ("labels.print_labels", "GET"): WRITERS,
    ("labels.print_labels", "POST"): WRITERS,
    ("labels.printers", "GET"): WRITERS,
    ("labels.printers", "POST"): WRITERS,
    ("labels.printer", "GET"): WRITERS,
    ("labels.printer", "POST"): WRITERS,
    ("labels.printer_retire", "POST"): WRITERS,
    ("labels.test_page", "GET"): WRITERS,
    ("labels.scan_piece", "POST"): WRITERS,
    ("maintenance.due", "GET"): STOCK_READERS,
    ("maintenance.asset", "GET"): STOCK_READERS,
    ("maintenance.asset", "POST"): WRITERS,
    ("maintenance.photo", "GET"): STOCK_READERS,
    ("maintenance.intervals", "GET"): ADMIN,
    ("maintenance.intervals", "POST"): ADMIN,
    ("maintenance_api.create_maintenance", "POST"): WRITERS,
    ("maintenance_api.list_maintenance", "GET"): STOCK_READERS,
    ("maintenance_api.due_maintenance", "GET"): STOCK_READERS,
    # warehouse safety rounds (库区排查)
    ("rounds.index", "GET"): STOCK_READERS,
    ("rounds.new", "GET"): WRITERS,
    ("rounds.new", "POST"): WRITERS,
    ("rounds.detail", "GET"): STOCK_READERS,
    ("rounds.templates", "GET"): COMMAND,
    ("rounds.templates", "POST"): COMMAND,
    ("rounds_api.create_round", "POST"): WRITERS,
    ("rounds_api.list_rounds", "GET"): STOCK_READERS,
    # money (issue 20): purchase requests, collective decisions, the reserve fund
    ("funding.purchases_index", "GET"): READERS,
    ("funding.purchase_new", "POST"): COMMAND,
    ("funding.purchase_detail", "GET"): READERS,
    ("funding.purchase_pdf", "GET"): READERS,
    ("funding.purchase_edit", "POST"): COMMAND,
    ("funding.purchase_submit", "POST"): COMMAND,
    ("funding.purchase_approve", "POST"): COMMAND,
    ("funding.purchase_reject", "POST"): COMMAND,
    ("funding.deliveries", "GET"): STOCK_READERS,
    ("funding.deliveries_receive", "POST"): WRITERS,
    ("funding.decisions_index", "GET"): READERS,
    ("funding.decisions_index", "POST"): COMMAND,
    ("funding.decision_detail", "GET"): READERS,
    ("funding.decision_detail", "POST"): COMMAND,
    ("funding.decision_minutes", "GET"): READERS,
    ("funding.leadership", "GET"): READERS,
    ("funding.leadership", "POST"): COMMAND,
    ("funding.funds", "GET"): READERS,
    ("funding.funds", "POST"): COMMAND,
    ("funding_api.create_decision", "POST"): COMMAND,
    ("funding_api.list_decisions", "GET"): READERS,
    ("funding_api.get_decision", "GET"): READERS,
    ("funding_api.get_fund", "GET"): READERS,
    ("funding_api.create_appropriation", "POST"): COMMAND,
    ("funding_api.create_payment", "POST"): COMMAND,
    ("funding_api.create_purchase", "POST"): COMMAND,
    ("funding_api.list_purchases", "GET"): READERS,
    ("funding_api.get_purchase", "GET"): READERS,
    ("funding_api.edit_purchase", "PUT"): COMMAND,
    ("funding_api.submit_purchase", "POST"): COMMAND,
    ("funding_api.approve_purchase", "POST"): COMMAND,
    ("funding_api.reject_purchase", "POST"): COMMAND,
    ("funding_api.create_delivery", "POST"): WRITERS,
    # pre-season check (汛前检查)
    ("preseason.index", "GET"): STOCK_READERS,
    ("preseason.check", "GET"): STOCK_READERS,
    ("preseason.answer", "POST"): WRITERS,
    ("preseason.season", "GET"): COMMAND,
    ("preseason.season", "POST"): COMMAND,
    ("preseason_api.progress", "GET"): STOCK_READERS,
    ("preseason_api.get_check", "GET"): STOCK_READERS,
    ("preseason_api.answer", "POST"): WRITERS,
    ("preseason_api.set_season", "POST"): COMMAND,
    ("preseason_api.set_checklist", "POST"): COMMAND,
    ("labels.scan_lookup", "GET"): STOCK_READERS,
    ("labels.scan_act", "POST"): STOCK_READERS,
    ("labels.scan_undo", "POST"): WRITERS,
    ("labels.scan_offline", "GET"): STOCK_READERS,
    ("labels.scan_count_progress", "GET"): STOCK_READERS,
    ("labels.scan_count_start", "POST"): WRITERS,
    ("labels.scan_count_submit", "POST"): WRITERS,
    ("labels.service_worker", "GET"): PUBLIC,
    ("labels.manifest", "GET"): PUBLIC,
    ("labels_api.create_labels", "POST"): WRITERS,
    ("labels_api.get_label", "GET"): STOCK_READERS,
    ("labels_api.list_printer_profiles", "GET"): WRITERS,
    ("labels_api.create_printer_profile", "POST"): WRITERS,
    # handover (人事调整) and custodians
    ("handover.index", "GET"): READ_ALL,
    ("handover.user", "GET"): READ_ALL,
    ("handover.reassign", "POST"): frozenset({"admin", "command"}),
    ("handover.set_custodian", "POST"): frozenset({"admin", "command"}),
    ("handover.custodian_report", "GET"): READ_ALL,
    # weekly ranking and monthly bulletin (每周排名、每月通报)
    ("ranking.index", "GET"): frozenset({"command", "inspector"}),
    ("ranking.issue", "POST"): COMMAND,
    ("ranking.bulletins", "GET"): frozenset({"command", "inspector"}),
    ("ranking.bulletin_file", "GET"): frozenset({"command", "inspector"}),
    # shelters
    ("shelters.coverage", "GET"): STOCK_READERS,
    ("shelters.sites", "GET"): STOCK_READERS,
    ("shelters.site_new", "GET"): REQUESTERS,
    ("shelters.site_new", "POST"): REQUESTERS,
    ("shelters.site_detail", "GET"): STOCK_READERS,
    ("shelters.site_edit", "GET"): REQUESTERS,
    ("shelters.site_edit", "POST"): REQUESTERS,
    ("shelters.inspection_new", "GET"): REQUESTERS,
    ("shelters.inspection_new", "POST"): REQUESTERS,
    ("shelters.defect_resolve", "POST"): REQUESTERS,
    ("shelters.towns", "GET"): STOCK_READERS,
    ("shelters.villages", "GET"): STOCK_READERS,
    ("shelters.town_detail", "GET"): STOCK_READERS,
    ("shelters.village_edit", "POST"): COMMAND,
    ("shelters.places_import", "GET"): COMMAND,
    ("shelters.places_import", "POST"): COMMAND,
    ("shelters.places_import_confirm", "POST"): COMMAND,
    ("shelters.places_import_template", "GET"): COMMAND,
    ("shelters.acceptance_record", "POST"): COMMAND,
    ("shelters.acceptance_request", "POST"): REQUESTERS,
    ("shelters.acceptance_withdraw", "POST"): COMMAND,
    ("shelters.document_download", "GET"): STOCK_READERS,
    ("shelters.coverage_target", "POST"): COMMAND,
    ("shelters_api.save_town", "POST"): COMMAND,
    ("shelters_api.list_towns", "GET"): STOCK_READERS,
    ("shelters_api.get_town", "GET"): STOCK_READERS,
    ("shelters_api.create_shelter", "POST"): REQUESTERS,
    ("shelters_api.list_shelters", "GET"): STOCK_READERS,
    ("shelters_api.get_shelter", "GET"): STOCK_READERS,
    ("shelters_api.put_shelter", "PUT"): REQUESTERS,
    ("shelters_api.record_inspection", "POST"): REQUESTERS,
    ("shelters_api.resolve_defect", "POST"): REQUESTERS,
    ("shelters_api.shelter_coverage", "GET"): STOCK_READERS,
    # inspection visits (督察检查)
    ("visits_api.create_visit", "POST"): frozenset({"command", "inspector"}),
    ("visits_api.get_visit", "GET"): STOCK_READERS,
    # self-inspection (自查): a unit's own clerks, keepers and command staff
    ("visits_api.create_self_inspection", "POST"): REQUESTERS,
    ("drills.action_self", "POST"): REQUESTERS,
    ("inventory.count_variance_threshold", "POST"): COMMAND,
    ("rectification.visits", "GET"): STOCK_READERS,
    ("rectification.visit", "GET"): STOCK_READERS,
    ("rectification.visit_new", "GET"): frozenset({"command", "inspector"}),
    ("rectification.visit_new", "POST"): frozenset({"command", "inspector"}),
    # the rectification list (整改清单)
    ("rectification_reports.rectification_list", "GET"): STOCK_READERS,
    ("rectification_reports_api.rectification_list", "GET"): STOCK_READERS,
    ("shelters_api.accept_shelter", "POST"): COMMAND,
    ("shelters_api.request_acceptance", "POST"): REQUESTERS,
    ("shelters_api.withdraw_acceptance", "POST"): COMMAND,
    ("shelters_api.acceptance_document", "GET"): STOCK_READERS,
    ("shelters_api.put_coverage_target", "PUT"): COMMAND,
    # shelter subsidies (避灾安置场所补助)
    ("subsidies.index", "GET"): STOCK_READERS,
    ("subsidies.approve", "POST"): COMMAND,
    ("subsidies.refuse", "POST"): COMMAND,
    ("subsidies_api.list_subsidies", "GET"): STOCK_READERS,
    ("subsidies_api.approve_subsidy", "POST"): COMMAND,
    ("subsidies_api.refuse_subsidy", "POST"): COMMAND,
}


def served_routes(app) -> dict[tuple[str, str], str]:
    out = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            out[(rule.endpoint, method)] = rule.rule
    return out


def test_every_route_is_in_the_table(app):
    served = set(served_routes(app))
    assert served - set(EXPECTED) == set(), "routes without an expected rule"
    assert set(EXPECTED) - served == set(), "table names routes that do not exist"


@pytest.fixture(scope="module")
def world_template(database_template, tmp_path_factory):
    """The route world built once for the module: a database (a SQLite file, or PostgreSQL
    rows) and an attachment folder that each test gets a fresh copy of."""
    folder = tmp_path_factory.mktemp("route-world")
    url = database_template
    if BACKEND == "sqlite":
        shutil.copy(database_template, folder / "world.db")
        url = f"sqlite:///{folder / 'world.db'}"
    app = create_app({**_base_config(url), "ATTACHMENT_DIR": str(folder / "attachments")})
    with app.app_context():
        world = build_world(db.session)
        db.session.remove()
        db.engine.dispose()
    rows = database_rows(url) if BACKEND == "postgresql" else None
    yield {"url": url, "rows": rows, "attachments": folder / "attachments", "world": world}
    if BACKEND == "postgresql":
        empty_postgresql(url)  # as the next module expects it


@pytest.fixture
def database_url(world_template, database_template, request):
    """This module's tests start from a copy of the route world, not an empty database."""
    if BACKEND == "sqlite":
        # always the same file, so that the tests share one app (see conftest.app)
        path = request.getfixturevalue("_live_sqlite_path")
        for leftover in (path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal")):
            leftover.unlink(missing_ok=True)
        shutil.copy(world_template["url"].removeprefix("sqlite:///"), path)
        yield f"sqlite:///{path}"
        return
    # Each test puts the world back before it starts, unless nothing has been written since
    # it was last put back (most of these requests are reads or refusals): PostgreSQL's WAL
    # insert position moves with every write (the write position lags behind it while
    # synchronous_commit is off). The module's last test is emptied by world_template.
    if world_template.get("restored_at") != _wal_position(database_template):
        empty_postgresql(database_template, world_template["rows"])
        world_template["restored_at"] = _wal_position(database_template)
    yield database_template


def _wal_position(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        position = conn.scalar(text("SELECT pg_current_wal_insert_lsn()::text"))
    engine.dispose()
    return position


@pytest.fixture
def app_config(world_template, tmp_path_factory):
    """The world's attachments, copied afresh into one folder (the same path each test, so
    that the tests share one app)."""
    folder = world_template.setdefault(
        "attachment_copy", tmp_path_factory.mktemp("world-copy") / "attachments"
    )
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(world_template["attachments"], folder)
    return {"ATTACHMENT_DIR": str(folder)}


@pytest.fixture
def route_world(world_template):
    """The ids, codes, sessions and tokens of the world this test's database is a copy of."""
    return world_template["world"]


@pytest.fixture
def world(session):
    """The route world built into this test's own database (for other modules' tests)."""
    return build_world(session)


def build_world(session) -> dict:
    """One account per role, each with a unit (and records) the route arguments can point at.

    Returns ids, codes, session ids and API tokens, never objects: they stay true in every
    copy of the database.
    """
    from datetime import date, timedelta

    from drills.attachments import add_attachment
    from drills.attachments_views import storage_dir
    from drills.records import FindingInput, create_drill
    from funding.models import Subsidy
    from inventory import allocations as alloc
    from inventory.catalog import create_item
    from inventory.counts import start_count
    from inventory.ledger import record_movement
    from inventory.models import Asset
    from labels.services import label_for_asset, save_profile
    from overview.ranking import issue_bulletin, period_of
    from readiness import services
    from readiness.permissions import SYSTEM
    from rectification.visits import record_visit
    from shelters.inspections import DefectInput, record_inspection
    from shelters.models import CHECKLIST
    from shelters.places import VillageInput, save_town, villages_of
    from shelters.sites import ShelterInput, create_shelter

    def make_unit(code, kind="station", parent=None):
        return services.create_unit(
            session,
            code=code,
            name=f"单位{code}",
            kind=kind,
            parent=parent,
            headcount=20,
            actor=SYSTEM,
        )

    def make_user(username, role, unit):
        return services.create_user(
            session,
            username=username,
            password=PASSWORD,
            role=role,
            unit=unit,
            name="",
            actor=SYSTEM,
        )

    def make_item(code, tracking="bulk"):
        return create_item(
            session,
            code=code,
            name=f"物资{code}",
            category="防汛",
            uom="件",
            unit_cost="100.00",
            shelf_life_days=None,
            tracking=tracking,
            actor=SYSTEM,
        )

    bureau = make_unit("BUREAU", kind="bureau")
    home = make_unit("HOME", parent=bureau)
    warehouse = make_unit("WH", kind="warehouse", parent=bureau)
    units = {"clerk": home, "keeper": warehouse}
    # command staff and inspectors sit at the bureau; the administrator has no unit
    posts = {**units, "command": bureau, "inspector": bureau}
    users = {role: make_user(f"r-{role}", role, posts.get(role)) for role in ROLES}
    target = make_user("target", "command", bureau)
    # A second bureau, a separate tree with the same kinds of records: nothing of it may
    # reach the first bureau's people (test_nothing_crosses_bureaus). Its names carry 乙局.
    other = make_unit("OTHER", kind="bureau")
    home2 = make_unit("HOME2", parent=other)
    warehouse2 = make_unit("WH2", kind="warehouse", parent=other)
    target2 = make_user("target2", "command", other)
    foreign = {home.id: home2, warehouse.id: warehouse2}
    # each unit's corrective action is owned by one of its own people
    owner = {
        home.id: users["clerk"],
        warehouse.id: users["keeper"],
        home2.id: make_user("r-clerk2", "clerk", home2),
        warehouse2.id: make_user("r-keeper2", "keeper", warehouse2),
    }
    mark = {u.id: "" for u in (home, warehouse)} | {u.id: "乙局" for u in (home2, warehouse2)}
    everywhere = (home, warehouse, home2, warehouse2)
    item = make_item("ITEM1")
    drone = make_item("DRONE1", tracking="serial")
    session.commit()
    for n, u in enumerate(everywhere):
        record_movement(
            session, unit=u, item=drone, kind="receipt", qty=1, serials=[f"SN-{n}"], actor=SYSTEM
        )
    assets = {a.unit_id: a for a in session.scalars(select(Asset))}
    label_codes = {uid: label_for_asset(session, a).code for uid, a in assets.items()}
    counts = {u.id: start_count(session, u, actor=SYSTEM) for u in everywhere}
    for u in everywhere:
        record_movement(session, unit=u, item=item, kind="receipt", qty=5, actor=SYSTEM)
    drills, actions, attachments = {}, {}, {}
    for u in everywhere:
        drill = create_drill(
            session,
            title=f"{mark[u.id]}route test",
            kind="tabletop",
            held_on=date(2022, 6, 1),
            lead_unit=u,
            findings=[FindingInput(f"{mark[u.id]}x", owner=owner[u.id], due_on=date(2022, 9, 1))],
            actor=SYSTEM,
        )
        drills[u.id] = drill
        actions[u.id] = drill.findings[0].actions[0]
        attachments[u.id] = add_attachment(
            session,
            drill,
            kind="plan",
            filename="plan.pdf",
            data=b"%PDF-1.4\n%%EOF\n",
            storage_dir=storage_dir(),
            max_bytes=1024,
            actor=SYSTEM,
        )
    allocations = {}
    pairs = ((warehouse, home), (home, warehouse), (warehouse2, home2), (home2, warehouse2))
    for source, dest in pairs:
        allocations[(source.id, dest.id)] = alloc.create_allocation(
            session,
            from_unit=source,
            to_unit=dest,
            lines=[alloc.LineInput("ITEM1", 1)],
            reason=f"{mark[source.id]}route test",
            actor=SYSTEM,
        )
    sites, defects, villages, towns = {}, {}, {}, {}
    for u in everywhere:
        # a town in each role's reach, with a village, a site and an open defect
        town = save_town(
            session,
            code=f"T-{u.code}",
            name=f"镇{u.code}",
            parent=u,
            villages=[VillageInput("村", 100, 10)],
            actor=SYSTEM,
        ).town
        towns[u.id] = town
        villages[u.id] = villages_of(session, town)[0]
        sites[u.id] = create_shelter(
            session,
            ShelterInput(name=f"{mark[u.id]}场所", town=town, villages=["村"]),
            actor=SYSTEM,
        )
        defects[u.id] = record_inspection(
            session,
            sites[u.id],
            # an inspection answers every checklist item and is not dated before the site
            # was registered (just now)
            inspected_on=date.today(),
            checklist=dict.fromkeys(CHECKLIST, "pass"),
            defects=[DefectInput("标识缺失")],
            # proposes a subsidy to the town (shelter subsidies)
            subsidy="1000.00",
            actor=SYSTEM,
        ).defects[0]
    visits = {
        u.id: record_visit(
            session,
            kind="check",
            unit=u,
            visited_on=date.today(),
            team=f"{mark[u.id]}检查组",
            summary="",
            findings=[],
            actor=SYSTEM,
        )
        for u in everywhere
    }
    week = period_of("week", date.today())
    bulletins = {
        u.id: issue_bulletin(session, u, week, actor=SYSTEM, today=date.today()) for u in everywhere
    }
    from inventory.maintenance import record as record_maintenance

    maintenance_records = {
        uid: record_maintenance(
            session, a, kind="service", done_on=date.today(), result="pass", actor=SYSTEM
        )
        for uid, a in assets.items()
    }
    from inventory import rounds as safety_rounds

    for top in (bureau, other):
        safety_rounds.set_template(session, top, "daily", "门窗锁具完好", actor=SYSTEM)
    round_records = {
        u.id: safety_rounds.record_round(
            session,
            u,
            frequency="daily",
            done_on=date.today(),
            answers=[safety_rounds.Answer("门窗锁具完好", True)],
            actor=SYSTEM,
        )
        for u in everywhere
    }
    from inventory import preseason

    for top in (bureau, other):
        preseason.set_season(session, top, date.today() + timedelta(days=10), 30, actor=SYSTEM)
        preseason.set_template(session, top, "专人负责", actor=SYSTEM)
    preseason.open_checks(session, None, today=date.today())
    preseason_checks = {
        c.unit_id: c for c in session.scalars(preseason.checks_query(None)).unique()
    }
    printers = {
        u.id: save_profile(
            session, u, {"name": f"打印机{mark[u.id]}{u.code}", "layout": "a4-3x8"}, actor=SYSTEM
        )
        for u in everywhere
    }
    from funding import decisions as money_decisions
    from funding import purchases as money_purchases

    heads = {bureau.id: target, other.id: target2}
    for top in (bureau, other):
        money_decisions.set_leadership(
            session,
            top,
            [money_decisions.MemberInput(heads[top.id].username, "局长", True)],
            actor=SYSTEM,
        )
    purchase_requests, decision_records = {}, {}
    for u in everywhere:
        top = bureau if u in (home, warehouse) else other
        purchase_requests[u.id] = money_purchases.create_request(
            session,
            top,
            title=f"{mark[u.id]}购置",
            lines=[money_purchases.LineInput(u.code, "ITEM1", 1, "100")],
            actor=SYSTEM,
        )
        decision_records[u.id] = money_decisions.record_decision(
            session,
            top,
            met_on=date.today(),
            attendees=[heads[top.id].username],
            subject=f"{mark[u.id]}决策",
            decision="同意",
            amount="100",
            policy=money_decisions.Policy.of(50000, "2/3"),
            actor=SYSTEM,
        )
    tokens = {
        role: services.issue_token(session, user, actor=SYSTEM) for role, user in users.items()
    }
    session.commit()

    def ids(objects):
        return {key: obj.id for key, obj in objects.items()}

    return {
        "unit_of": {role: unit.id for role, unit in units.items()},
        "default_unit": home.id,
        "unit_codes": {u.id: u.code for u in everywhere},
        "other_unit": {
            home.id: warehouse.id,
            warehouse.id: home.id,
            home2.id: warehouse2.id,
            warehouse2.id: home2.id,
        },
        "foreign": {uid: u.id for uid, u in foreign.items()},
        "foreign_target": target2.id,
        "towns": {uid: town.code for uid, town in towns.items()},
        "sites": ids(sites),
        "defects": ids(defects),
        "villages": ids(villages),
        "target": target.id,
        "item": item.code,
        "counts": ids(counts),
        "assets": ids(assets),
        "labels": label_codes,
        "allocations": ids(allocations),
        "actions": ids(actions),
        "drills": ids(drills),
        "attachments": ids(attachments),
        "visits": ids(visits),
        "bulletins": ids(bulletins),
        "printers": ids(printers),
        "maintenance_records": ids(maintenance_records),
        "rounds": ids(round_records),
        "purchases": ids(purchase_requests),
        "decisions": ids(decision_records),
        "preseason": ids(preseason_checks),
        "subsidies": {
            u.id: session.scalar(
                select(Subsidy.id).where(Subsidy.inspection_id == defects[u.id].inspection_id)
            )
            for u in everywhere
        },
        "sessions": {role: user.get_id() for role, user in users.items()},
        "tokens": tokens,
    }


def url_for_role(path: str, role: str | None, world, foreign: bool = False) -> str:
    """Fill route arguments with objects inside the role's own reach, or (``foreign``) with
    the same kind of objects in the other bureau."""
    unit = world["unit_of"].get(role, world["default_unit"])
    target = world["target"]
    if foreign:
        unit = world["foreign"][unit]
        target = world["foreign_target"]
    if path.startswith(("/l/", "/api/v1/labels/", "/scan/lookup/")):
        path = path.replace("<code>", world["labels"][unit])
    if path.startswith(("/shelters/towns/", "/api/v1/towns/")):
        path = path.replace("<code>", world["towns"][unit])
    path = path.replace("<int:shelter_id>", str(world["sites"][unit]))
    path = path.replace("<int:defect_id>", str(world["defects"][unit]))
    path = path.replace("<int:village_id>", str(world["villages"][unit]))
    path = path.replace("<int:action_id>", str(world["actions"][unit]))
    path = path.replace("<int:drill_id>", str(world["drills"][unit]))
    path = path.replace("<int:attachment_id>", str(world["attachments"][unit]))
    path = path.replace("<int:visit_id>", str(world["visits"][unit]))
    path = path.replace("<int:bulletin_id>", str(world["bulletins"][unit]))
    path = path.replace("<int:profile_id>", str(world["printers"][unit]))
    path = path.replace("<int:record_id>", str(world["maintenance_records"][unit]))
    path = path.replace("<int:round_id>", str(world["rounds"][unit]))
    path = path.replace("<int:request_id>", str(world["purchases"][unit]))
    path = path.replace("<int:decision_id>", str(world["decisions"][unit]))
    path = path.replace("<int:check_id>", str(world["preseason"][unit]))
    path = path.replace("<int:subsidy_id>", str(world["subsidies"][unit]))
    if "<int:allocation_id>" in path:
        # Dispatching is done by the source; everything else by (or for) the destination.
        other = world["other_unit"][unit]
        pair = (unit, other) if path.endswith("/dispatch") else (other, unit)
        path = path.replace("<int:allocation_id>", str(world["allocations"][pair]))
    return (
        path.replace("<code>", world["unit_codes"][unit])
        .replace("<int:user_id>", str(target))
        .replace("<item_code>", world["item"])
        .replace("<int:count_id>", str(world["counts"][unit]))
        .replace("<int:asset_id>", str(world["assets"][unit]))
    )


def call(app, world, role: str | None, method: str, url: str):
    """One request as the role (anonymous for None): a bearer token for the API, the login
    cookie for pages, an empty body; never a server error."""
    client = app.test_client()
    headers = {}
    is_api = url.startswith("/api/")
    if role is not None:
        if is_api:
            headers["Authorization"] = f"Bearer {world['tokens'][role]}"
        else:
            # Signed in as the login form would (tests/readiness tests the form itself).
            with client.session_transaction() as cookie:
                cookie["_user_id"] = world["sessions"][role]
                cookie["_fresh"] = True
    if method == "GET":
        response = client.get(url, headers=headers)
    elif is_api:
        response = client.open(url, method=method, json={}, headers=headers)
    else:
        response = client.open(
            url, method=method, headers=headers, data={"csrf_token": csrf_token(client)}
        )
    assert response.status_code < 500, (role, url, response.get_data(as_text=True)[:300])
    return response


def outcome(response, is_api: bool) -> str:
    if is_api:
        if response.status_code == 401:
            return "login"
        return "denied" if response.status_code == 403 else "allowed"
    # The permission check sends the anonymous to /login?next=…; logging out goes to bare /login.
    if response.status_code == 302 and response.location.startswith("/login?next="):
        return "login"
    return "denied" if response.status_code == 403 else "allowed"


@pytest.mark.parametrize(("endpoint", "method"), sorted(EXPECTED))
def test_route_allows_exactly_the_expected_roles(app, route_world, endpoint, method):
    path = served_routes(app)[(endpoint, method)]
    expected = EXPECTED[(endpoint, method)]
    is_api = path.startswith("/api/")
    got, want = {}, {}
    for role in (None, *ROLES):
        response = call(app, route_world, role, method, url_for_role(path, role, route_world))
        got[role] = outcome(response, is_api)
        if expected == PUBLIC:
            want[role] = "allowed"
        elif role is None:
            want[role] = "login"
        else:
            want[role] = "allowed" if role in expected else "denied"
    assert got == want


# What only the second bureau's records carry: its units' and towns' names, and 乙局 in its
# drills, findings, allocations and sites.
FOREIGN_MARKS = ("单位OTHER", "单位HOME2", "单位WH2", "镇T-HOME2", "镇T-WH2", "乙局")
SCOPED_ROLES = ("clerk", "keeper", "command", "inspector")


@pytest.mark.parametrize(
    ("endpoint", "method"), sorted(k for k, v in EXPECTED.items() if v != PUBLIC)
)
def test_nothing_crosses_bureaus(app, route_world, endpoint, method):
    """Every role but the administrator, on every route it may use, pointed at the other
    bureau's objects is refused; and no page, list, report, export or answer it can read
    shows anything of the other bureau, even when asked for it by code."""
    path = served_routes(app)[(endpoint, method)]
    expected = EXPECTED[(endpoint, method)]
    is_api = path.startswith("/api/")
    for role in (r for r in SCOPED_ROLES if r in expected):
        url = url_for_role(path, role, route_world, foreign=True)
        takes_object = "<" in path
        if not takes_object and method == "GET":
            # a list or report asked for the other bureau's unit or town by code
            url += "?unit=HOME2&town=T-HOME2"
        response = call(app, route_world, role, method, url)
        if takes_object:
            refused = {403, 404}
            if is_api and method != "GET":
                # an empty body is refused for its shape before any object is looked at:
                # nothing of the other bureau is read or written
                refused.add(422)
            assert response.status_code in refused, (role, url, response.status_code)
        if response.mimetype == "application/pdf" or response.mimetype.endswith("zip"):
            continue  # read by tests/test_downloads.py, which opens each file
        body = response.get_data(as_text=True) if response.status_code == 200 else ""
        crossed = [m for m in FOREIGN_MARKS if m in body]
        assert not crossed, (role, url, crossed)
