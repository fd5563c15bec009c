"""Characters no record may hold: what input refuses and what every export strips.

Control characters other than TAB, CR and LF (NUL breaks XLSX and PostgreSQL, the rest are
invisible), lone surrogates (a JSON ``"\\ud800"`` cannot be stored or encoded), the
bidirectional overrides and isolates that make text read differently from what it holds
("Trojan Source", U+202A–U+202E, U+2066–U+2069) and the non-characters U+FFFE/U+FFFF
(not allowed in XML, so not in XLSX).
"""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect

from readiness.errors import DomainError

UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff\ud800-\udfff]"
)


def first_unsafe(text: str) -> str | None:
    """The first character of ``text`` that no record may hold, or None."""
    match = UNSAFE.search(text)
    return match.group() if match else None


def describe(char: str) -> str:
    """How a refused character is named to the user: its code point, e.g. U+0000."""
    return f"U+{ord(char):04X}"


def strip_unsafe(text: str) -> str:
    """``text`` without the characters no record may hold (for exports of older records)."""
    return UNSAFE.sub("", text)


def find_unsafe(value, path: str = "") -> tuple[str, str] | None:
    """Where in a nested value (text, list, dict) a character no record may hold first appears.

    Answers ``(path, char)`` with the path written as the API names fields, e.g.
    ``lines[2].note``; keys are checked as well as values. None when all is clean.
    """
    if isinstance(value, str):
        char = first_unsafe(value)
        return (path, char) if char is not None else None
    if isinstance(value, dict):
        for key, item in value.items():
            key_text = str(key)
            inner = f"{path}.{key_text}" if path else key_text
            char = first_unsafe(key_text)
            if char is not None:
                return (inner, char)
            found = find_unsafe(item, inner)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = find_unsafe(item, f"{path}[{index}]")
            if found:
                return found
    return None


def unsafe_message(field: str, char: str) -> str:
    """The refusal naming the field and the character it may not hold."""
    return _(
        "{field} 含有不允许的字符 {char}（控制字符、孤立代理字符或双向文字控制符），"
        "请删除后再提交。"
    ).format(field=field, char=describe(char))


# How the record pages that read their form directly (drills, actions, allocations, shelter
# inspections, training) name the text fields the flush check may meet; others show the key.
FIELD_LABELS = {
    "title": _l("标题"),
    "name": _l("名称"),
    "note": _l("备注"),
    "reason": _l("事由"),
    "decision_note": _l("审批意见"),
    "cancel_reason": _l("取消原因"),
    "element": _l("能力要素"),
    "evidence": _l("整改证据"),
    "text": _l("内容"),
    "hazard": _l("灾种"),
    "scenario": _l("情景设定"),
    "location": _l("地点"),
    "purpose": _l("目的"),
    "summary": _l("过程概述"),
    "problems": _l("存在问题及原因"),
    "lessons": _l("经验教训"),
    "roster": _l("参演人员名单"),
    "address": _l("地址"),
    "contacts": _l("联系方式"),
    "manager_name": _l("管理人"),
    "manager_phone": _l("管理人电话"),
    "structure": _l("结构"),
    "resolution": _l("处理结果"),
    "inspector": _l("检查人"),
    "course": _l("课程"),
    "trainee_names": _l("受训人员"),
    "filename": _l("文件名"),
}


def refuse_unsafe_on_flush(session, _flush_context, _instances) -> None:
    """Refuse to store a new or changed value holding a character no record may hold.

    The forms, the API and the import name the field first; this catches any other way in
    (a view reading the raw form, a service, the CLI) before a row is written, so the
    database never holds one and is left as it was.
    """
    for obj in (*session.new, *session.dirty):
        state = inspect(obj)
        is_new = obj in session.new
        for attr in state.mapper.column_attrs:
            if is_new:
                values = [state.dict.get(attr.key)]
            else:
                values = state.attrs[attr.key].history.added or ()
            for value in values:
                # Text columns only: the audit's before/after snapshots (JSON) may quote a record
                # stored before the rule, and refusing those would forbid fixing that record.
                char = first_unsafe(value) if isinstance(value, str) else None
                if char is not None:
                    label = str(FIELD_LABELS.get(attr.key, attr.key))
                    raise DomainError(unsafe_message(label, char), field=attr.key)
