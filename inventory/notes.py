"""Ledger notes in words, in the reader's language, with a link to the record they came from.

A ledger line stores the document it came from as a reference (``allocation:1``,
``count:3``, ``undo:7``, ``movement:5``) and, for lines the system writes, a note composed
in Chinese when it was written ("来自 应急物资中心仓库"). Pages show neither as stored: the
reference becomes words and a link (调拨单 #1 → /allocations/1) and a generated note is
composed again from the record, in the language of whoever reads it. Downloads keep the
stored columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from inventory.models import MOVEMENT_KINDS, Allocation, Movement


@dataclass(frozen=True)
class LineNote:
    """What a page shows in a ledger line's note column."""

    text: str  # the note: the user's own words, or the generated one in the reader's language
    document: str = ""  # the document it came from, in words ("" for none)
    url: str | None = None  # where that document is shown, when it has a page


def _reference(document: str) -> tuple[str, int] | None:
    """(kind, id) of a stored reference such as ``allocation:1``; None for anything else."""
    kind, _sep, ident = (document or "").partition(":")
    return (kind, int(ident)) if ident.isdigit() else None


def line_notes(session: Session, movements: Iterable[Movement]) -> dict[int, LineNote]:
    """The note of each ledger line, by movement id. The allocations and undone lines the
    page refers to are read in one query each, whatever the number of lines."""
    movements = list(movements)
    refs = {m.id: _reference(m.document) for m in movements}
    wanted: dict[str, set[int]] = {"allocation": set(), "undo": set()}
    for ref in refs.values():
        if ref and ref[0] in wanted:
            wanted[ref[0]].add(ref[1])
    allocations = (
        {
            a.id: a
            for a in session.scalars(
                select(Allocation)
                .where(Allocation.id.in_(wanted["allocation"]))
                .options(joinedload(Allocation.from_unit), joinedload(Allocation.to_unit))
            )
        }
        if wanted["allocation"]
        else {}
    )
    undone = (
        {m.id: m for m in session.scalars(select(Movement).where(Movement.id.in_(wanted["undo"])))}
        if wanted["undo"]
        else {}
    )
    return {m.id: _note(m, refs[m.id], allocations, undone) for m in movements}


def _note(m: Movement, ref, allocations: dict, undone: dict) -> LineNote:
    if ref is None:
        return LineNote(m.note)
    kind, ident = ref
    if kind == "allocation":
        a = allocations.get(ident)
        text = m.note
        if a is not None and m.kind == "transfer_out":
            text = _("调拨至 {unit}").format(unit=a.to_unit.name)
        elif a is not None and m.kind == "transfer_in":
            text = _("来自 {unit}").format(unit=a.from_unit.name)
        url = url_for("allocations.detail", allocation_id=ident)
        return LineNote(text, _("调拨单 #{id}").format(id=ident), url)
    if kind == "count":
        url = url_for("inventory.count_detail", count_id=ident)
        text = _("盘点第 {id} 号调整").format(id=ident) if m.kind == "adjustment" else m.note
        return LineNote(text, _("盘点第 {id} 号").format(id=ident), url)
    if kind == "undo":
        earlier = undone.get(ident)
        if earlier is None:
            return LineNote(m.note)
        text = _("撤销第 {id} 笔（{kind} {qty}）").format(
            id=ident, kind=MOVEMENT_KINDS[earlier.kind], qty=abs(earlier.qty)
        )
        return LineNote(text)
    if kind == "movement":
        # a later line of one issue or write-off that took several lots
        return LineNote(m.note, _("与第 {id} 笔同一次登记").format(id=ident))
    return LineNote(m.note, m.document)
