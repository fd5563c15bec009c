"""The money pages in English, with ASCII data, show no Chinese except the amounts in capital
numerals (大写), which a Chinese finance bureau reads in any language."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from funding import decisions, fund, purchases
from funding.decisions import MemberInput, Policy
from funding.money import capital
from readiness.permissions import SYSTEM
from tests.conftest import post_form
from tests.readiness.test_i18n import CJK


def test_money_pages_in_english_show_no_chinese(session, make_unit, make_user, make_item, login):
    hq = make_unit("HQ", name="County Bureau", kind="bureau")
    station = make_unit("ST", name="North Station", parent=hq)
    make_item("LJ", name="Life jacket", category="Flood", uom="pc", unit_cost="120")
    drafter = make_user("drafter", "command", hq, name="Drafter")
    make_user("approver", "command", hq, name="Approver")
    head = make_user("head", "command", hq, name="Head")
    decisions.set_leadership(session, hq, [MemberInput("head", "Chief", True)], actor=SYSTEM)
    fund.appropriate(session, hq, amount="1000", reference="F-1", actor=SYSTEM)
    request = purchases.create_request(
        session,
        hq,
        title="Life jackets",
        addressee="City Finance Bureau",
        basis="The standard",
        lines=[purchases.LineInput("ST", "LJ", 5, "120")],
        actor=drafter,
    )
    purchases.submit_request(session, request, actor=drafter)
    entry = decisions.record_decision(
        session,
        hq,
        met_on=date.today(),
        attendees=[head.username],
        positions=["agree"],
        subject="Jackets",
        decision="Agreed",
        amount="600",
        policy=Policy.of(50000, "2/3"),
        actor=drafter,
    )
    session.commit()
    client = login("approver")
    post_form(client, "/language", {"lang": "en", "next": "/"})
    words = capital(Decimal("600"))
    for path in (
        "/purchases",
        f"/purchases/{request.id}",
        "/decisions",
        f"/decisions/{entry.id}",
        "/decisions/leadership",
        "/funds",
        "/purchases/deliveries",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True).replace('lang="zh-CN">中文<', "")
        html = html.replace(words, "")
        leftover = CJK.findall(html)
        assert not leftover, f"{path}: {''.join(leftover)[:80]}"
    refused = post_form(
        client,
        f"/purchases/{request.id}/approve",
        {"approved_amount": "9999", "funding_source": "reserve_fund", "decision": ""},
    )
    html = refused.get_data(as_text=True).replace('lang="zh-CN">中文<', "").replace(words, "")
    assert "cannot exceed the requested total" in html and not CJK.findall(html)
    # a new draft starts with the wording in the drafter's language
    draft = post_form(client, "/purchases/new", {"title": "More", "from_shortfall": ""})
    assert draft.status_code == 302
    html = client.get(draft.location).get_data(as_text=True).replace('lang="zh-CN">中文<', "")
    assert "City Finance Bureau" not in html and "finance bureau" in html
    assert not CJK.findall(html.replace(capital(Decimal("0")), ""))
    assert station.code == "ST"
