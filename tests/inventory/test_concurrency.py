"""Two clerks issuing the last pieces at the same moment: one succeeds, one is refused."""

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory import ledger
from inventory.models import Item, Movement, Position
from readiness.extensions import db
from readiness.models import Unit, User


def _issue_concurrently(app, unit_id, item_id, user_ids, qty):
    barrier = threading.Barrier(len(user_ids))
    results: dict[int, str] = {}

    def work(user_id):
        with app.app_context(), Session(db.engine) as session:
            unit = session.get(Unit, unit_id)
            item = session.get(Item, item_id)
            user = session.get(User, user_id)
            barrier.wait()
            try:
                ledger.record_movement(
                    session, unit=unit, item=item, kind="issue", qty=qty, actor=user
                )
                session.commit()
                results[user_id] = "ok"
            except ledger.InsufficientStock as err:
                session.rollback()
                results[user_id] = err.message

    threads = [threading.Thread(target=work, args=(uid,)) for uid in user_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_last_pieces_issued_at_the_same_moment(
    app, session, make_unit, make_item, make_user, stock
):
    station = make_unit("BAIPING", name="白坪派出所")
    tape = make_item("TAPE", name="警戒带", uom="盘")
    clerks = [make_user(f"clerk{n}", "clerk", station) for n in range(4)]
    stock(station, tape, 3)
    results = _issue_concurrently(app, station.id, tape.id, [c.id for c in clerks], 2)
    assert sorted(results.values()).count("ok") == 1
    refusals = [r for r in results.values() if r != "ok"]
    assert len(refusals) == 3
    assert all("只有 1 盘，不够出库 2 盘" in r for r in refusals), refusals
    session.expire_all()
    assert session.scalars(select(Position.qty)).one() == 1
    issues = session.scalars(select(Movement).where(Movement.kind == "issue")).all()
    assert len(issues) == 1
    assert ledger.verify_balances(session) == []
