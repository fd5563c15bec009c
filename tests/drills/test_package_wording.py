"""The inspection package names the drill classification in words an inspector reads, not
"国际类别"."""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _

from tests.drills.test_package import app_config, build, pdf_text, world  # noqa: F401


def test_the_pdf_heads_the_classification_in_plain_words(session, world):  # noqa: F811
    text = pdf_text(build(session, world)[1])
    assert "演练类别（通用分类）" in text
    assert "大型防汛演练（通用分类：综合实战演练）" in text
    assert "国际类别" not in text


def test_the_classification_words_have_their_english(app):
    with app.test_request_context(), force_locale("en"):
        assert _("演练类别（通用分类）") == "Drill category (standard classification)"
        fact = _("{kind}（通用分类：{family}）").format(kind="Flood drill", family="Full-scale")
        assert fact == "Flood drill (standard classification: Full-scale)"
