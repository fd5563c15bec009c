"""Issue 17, item 5: the dashboard's overdue tile counts corrective actions of every source,
and handover moves a departing person's actions of every source (here an inspection
visit's beside a drill's)."""

from datetime import date, timedelta

from readiness import services
from readiness.permissions import SYSTEM
from rectification.models import CorrectiveAction
from rectification.visits import VisitFinding, record_visit
from tests.overview.test_dashboard import page_of, tile

TODAY = date.today()


def _overdue_inspection_action(session, unit, owner, actor):
    visit = record_visit(
        session,
        kind="check",
        unit=unit,
        visited_on=TODAY - timedelta(days=40),
        team="督察组",
        summary="",
        findings=[
            VisitFinding("值班备勤不落实", unit, owner, TODAY - timedelta(days=40), "建立制度")
        ],
        actor=actor,
        today=TODAY - timedelta(days=40),
    )
    session.commit()
    return visit.actions[0]


def test_the_dashboard_counts_overdue_actions_of_every_source(session, make_unit, make_user, login):
    bureau = make_unit("DF", kind="bureau", parent=None)
    station = make_unit("DAYE", parent=bureau)
    owner = make_user("chen", "clerk", station)
    make_user("cmd1", "command", bureau)
    before = tile(page_of(login("cmd1")), "actions")[1]
    assert before == "0"
    _overdue_inspection_action(session, station, owner, SYSTEM)
    assert tile(page_of(login("cmd1")), "actions")[1] == "1"


def test_handover_moves_an_inspection_visits_action_too(session, make_unit, make_user):
    from overview import handover as ho

    bureau = make_unit("DF", kind="bureau", parent=None)
    station = make_unit("DAYE", parent=bureau)
    leaving = make_user("chen", "clerk", station)
    successor = make_user("liu", "clerk", station)
    admin = make_user("root", "admin", None)
    action = _overdue_inspection_action(session, station, leaving, SYSTEM)
    services.set_user_active(session, leaving, False, actor=admin)
    session.commit()
    held = ho.assignments(session, leaving)
    assert [h.obj.id for h in held.actions] == [action.id]
    assert any(a.user.id == leaving.id for a in ho.awaiting_handover(session))
    ho.reassign(session, leaving, successor, actor=admin)
    session.commit()
    session.expire_all()
    assert session.get(CorrectiveAction, action.id).owner_id == successor.id
