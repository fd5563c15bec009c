"""Drill attachments and action evidence: checked by content, stored once by their hash,
served only to those who may see the drill, never left behind by a refused request."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image
from reportlab.pdfgen import canvas
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from drills import attachments as att
from drills import records
from drills.models import Attachment, CorrectiveAction
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import AuditEntry
from readiness.permissions import SYSTEM
from tests.conftest import PASSWORD, csrf_token, post_form

MB = 1024 * 1024


@pytest.fixture
def app_config():
    return {"ATTACHMENT_MAX_BYTES": 1 * MB}


def pdf_bytes(text: str = "sign-in sheet") -> bytes:
    buf = io.BytesIO()
    page = canvas.Canvas(buf)
    page.drawString(72, 720, text)
    page.save()
    return buf.getvalue()


def png_bytes(colour: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, "PNG")
    return buf.getvalue()


def ooxml_bytes(part: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(part, "<x/>")
    return buf.getvalue()


def stored_files(storage: Path) -> list[Path]:
    return sorted(p for p in storage.rglob("*") if p.is_file()) if storage.exists() else []


def text(r) -> str:
    return r.get_data(as_text=True)


@pytest.fixture
def storage(app) -> Path:
    return Path(app.config["ATTACHMENT_DIR"])


@pytest.fixture
def setting(session, make_unit, make_user):
    """Daye station's drill with one corrective action owned by a Daye officer; Ludian is an
    unrelated station."""
    df = make_unit("DF", name="登封市公安局", kind="bureau", headcount=0)
    daye = make_unit("DAYE", name="大冶派出所", parent=df)
    ludian = make_unit("LUDIAN", name="鲁店派出所", parent=df)
    clerk = make_user("clerk1", "clerk", daye)
    owner = make_user("owner1", "clerk", daye, name="张队长")
    stranger = make_user("clerk2", "clerk", ludian)
    inspector = make_user("insp1", "inspector", df)
    drill = records.create_drill(
        session,
        title="防汛实战大练兵",
        kind="field_exercise",
        held_on=date(2022, 8, 10),
        lead_unit=daye,
        findings=[records.FindingInput("救援绳使用不熟练", owner=owner, due_on=date(2022, 9, 30))],
        actor=clerk,
        today=date(2022, 10, 1),
    )
    session.commit()
    return {
        "daye": daye,
        "clerk": clerk,
        "owner": owner,
        "stranger": stranger,
        "inspector": inspector,
        "drill": drill,
        "action": drill.findings[0].actions[0],
    }


def add(session, storage, drill, data, filename, *, kind="sign_in", actor=SYSTEM, **kw):
    return att.add_attachment(
        session,
        drill,
        kind=kind,
        filename=filename,
        data=data,
        storage_dir=storage,
        max_bytes=MB,
        actor=actor,
        **kw,
    )


# ---------------------------------------------------------------- the service


def test_attachment_path_is_two_hex_digits_then_the_hash():
    sha = "ab" + "0" * 62
    assert att.attachment_path(Path("/srv/files"), sha) == Path("/srv/files/ab") / sha


def test_a_pdf_is_stored_under_its_sha256_and_audited(session, storage, setting):
    data = pdf_bytes()
    a = add(session, storage, setting["drill"], data, "签到表.pdf", actor=setting["clerk"])
    session.commit()
    sha = hashlib.sha256(data).hexdigest()
    assert (a.sha256, a.size_bytes, a.content_type, a.filename) == (
        sha,
        len(data),
        "application/pdf",
        "签到表.pdf",
    )
    assert att.attachment_path(storage, sha).read_bytes() == data
    assert a.uploaded_by_id == setting["clerk"].id and a.action_id is None
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "attachment.add"))
    assert entry.after["sha256"] == sha and entry.unit_id == setting["daye"].id
    assert [p.name for p in stored_files(storage)] == [sha]  # no temp file left behind


def test_identical_bytes_are_stored_once(session, storage, setting):
    data = png_bytes()
    first = add(session, storage, setting["drill"], data, "a.png", kind="photo")
    second = add(session, storage, setting["drill"], data, "b.png", kind="photo")
    session.commit()
    assert first.id != second.id and first.sha256 == second.sha256
    assert stored_files(storage) == [att.attachment_path(storage, first.sha256)]


def test_too_big_is_refused_and_nothing_is_stored(session, storage, setting):
    with pytest.raises(DomainError, match="不能超过 1 MB"):
        add(session, storage, setting["drill"], b"%PDF-1.4" + b"0" * MB, "big.pdf")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert stored_files(storage) == []


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "setup.exe"),
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "report.pdf"),
        (b"<!doctype html><script>alert(1)</script>", "plan.pdf"),
        (b"PK\x03\x04 not really a zip", "plan.docx"),
        (ooxml_bytes("ppt/presentation.xml"), "slides.pptx"),
    ],
)
def test_only_pdf_images_and_office_files_by_content(session, storage, setting, data, filename):
    with pytest.raises(DomainError, match="不支持该文件类型"):
        add(session, storage, setting["drill"], data, filename)
    assert stored_files(storage) == []


def test_the_extension_must_agree_with_the_content(session, storage, setting):
    with pytest.raises(DomainError, match=r"“\.pdf”与文件内容（PNG）不符"):
        add(session, storage, setting["drill"], png_bytes(), "photo.pdf", kind="photo")
    with pytest.raises(DomainError, match="不符"):
        add(session, storage, setting["drill"], pdf_bytes(), "no-extension", kind="plan")
    ok = add(session, storage, setting["drill"], pdf_bytes(), "PLAN.PDF", kind="plan")
    assert ok.content_type == "application/pdf"


def test_office_files_are_recognised_by_their_parts(session, storage, setting):
    docx = add(session, storage, setting["drill"], ooxml_bytes("word/document.xml"), "方案.docx")
    xlsx = add(session, storage, setting["drill"], ooxml_bytes("xl/workbook.xml"), "评估.xlsx")
    assert docx.content_type.endswith("wordprocessingml.document")
    assert xlsx.content_type.endswith("spreadsheetml.sheet")
    with pytest.raises(DomainError, match="不符"):
        add(session, storage, setting["drill"], ooxml_bytes("xl/workbook.xml"), "评估.docx")


def test_file_names_keep_only_the_base_name_without_control_characters(session, storage, setting):
    a = add(session, storage, setting["drill"], pdf_bytes(), "C:\\Users\\王\\签到\u202e表\x00.pdf")
    b = add(session, storage, setting["drill"], pdf_bytes(), "../../etc/签到表.pdf")
    assert (a.filename, b.filename) == ("签到表.pdf", "签到表.pdf")
    with pytest.raises(DomainError, match="文件名太长"):
        add(session, storage, setting["drill"], pdf_bytes(), "长" * 200 + ".pdf")


def test_empty_files_and_unknown_kinds_are_refused(session, storage, setting):
    with pytest.raises(DomainError, match="请选择要上传的文件"):
        add(session, storage, setting["drill"], b"", "")
    with pytest.raises(DomainError, match="文件是空的"):
        add(session, storage, setting["drill"], b"", "empty.pdf")
    with pytest.raises(DomainError, match="未知的附件类别"):
        add(session, storage, setting["drill"], pdf_bytes(), "x.pdf", kind="selfie")


def test_who_may_attach(session, storage, setting):
    drill, action = setting["drill"], setting["action"]
    with pytest.raises(PermissionDenied):
        add(session, storage, drill, pdf_bytes(), "x.pdf", actor=setting["stranger"])
    with pytest.raises(PermissionDenied):
        add(session, storage, drill, pdf_bytes(), "x.pdf", actor=setting["inspector"])
    owner = setting["owner"]
    evidence = add(
        session,
        storage,
        drill,
        png_bytes(),
        "证据.png",
        kind="evidence",
        action=action,
        actor=owner,
    )
    assert evidence.action_id == action.id and evidence in action.attachments
    with pytest.raises(DomainError, match="只能是整改证据"):
        add(session, storage, drill, png_bytes(), "x.png", kind="photo", action=action)
    other = records.create_drill(
        session,
        title="另一次演练",
        kind="tabletop",
        held_on=date(2022, 8, 1),
        lead_unit=setting["daye"],
        actor=SYSTEM,
    )
    with pytest.raises(DomainError, match="不属于此演练"):
        add(session, storage, other, png_bytes(), "x.png", kind="evidence", action=action)


def test_no_evidence_after_verification_and_no_files_on_a_closed_drill(session, storage, setting):
    action = setting["action"]
    action.status, action.evidence = "cancelled", "不再适用"
    with pytest.raises(Conflict):
        add(
            session, storage, setting["drill"], png_bytes(), "x.png", kind="evidence", action=action
        )
    setting["drill"].status = "closed"
    with pytest.raises(Conflict, match="已归档"):
        add(session, storage, setting["drill"], pdf_bytes(), "x.pdf")


def test_a_rolled_back_upload_leaves_no_file_but_keeps_committed_ones(session, storage, setting):
    drill = setting["drill"]
    kept = add(session, storage, drill, pdf_bytes("kept"), "kept.pdf")
    session.commit()
    add(session, storage, drill, pdf_bytes("kept"), "again.pdf")  # same bytes: already stored
    add(session, storage, drill, pdf_bytes("dropped"), "dropped.pdf")
    session.rollback()
    assert stored_files(storage) == [att.attachment_path(storage, kept.sha256)]
    assert session.scalar(select(func.count()).select_from(Attachment)) == 1


def test_who_may_see_a_file(session, storage, setting):
    drill, action = setting["drill"], setting["action"]
    photo = add(session, storage, drill, png_bytes(), "p.png", kind="photo")
    assert att.attachment_visible(session, setting["clerk"], photo)
    assert att.attachment_visible(session, setting["inspector"], photo)
    assert not att.attachment_visible(session, setting["stranger"], photo)
    # Evidence from an owner in another unit: that unit sees it, not the drill's other files.
    action.unit_id = setting["stranger"].unit_id
    evidence = add(
        session, storage, drill, png_bytes("blue"), "e.png", kind="evidence", action=action
    )
    assert att.attachment_visible(session, setting["stranger"], evidence)
    assert not att.attachment_visible(session, setting["stranger"], photo)


# ---------------------------------------------------------------- pages


def upload(client, drill_id: int, data: bytes, filename: str, kind: str = "sign_in"):
    # Encoded in memory: the test client would spool a big body to a file it never closes.
    boundary, body = encode_multipart(
        {
            "csrf_token": csrf_token(client),
            "kind": kind,
            "file": FileStorage(io.BytesIO(data), filename=filename),
        }
    )
    return client.post(
        f"/drills/{drill_id}/attachments",
        data=body,
        content_type=f'multipart/form-data; boundary="{boundary}"',
    )


def test_clerk_uploads_a_sign_in_sheet_and_downloads_it_back(app, session, storage, setting, login):
    drill_id = setting["drill"].id
    clerk = login("clerk1")
    data = pdf_bytes("签到表")
    r = upload(clerk, drill_id, data, "签到表 8月10日.pdf")
    assert r.status_code == 302 and r.location.endswith(f"/drills/{drill_id}#attachments")
    page = text(clerk.get(f"/drills/{drill_id}"))
    assert "已上传附件：签到表 8月10日.pdf" in page
    a = session.scalar(select(Attachment))
    link = f"/drills/{drill_id}/attachments/{a.id}"
    assert link in page and "签到表" in page
    got = clerk.get(link)
    assert got.status_code == 200 and got.data == data
    assert got.mimetype == "application/pdf"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    disposition = got.headers["Content-Disposition"]
    assert disposition.startswith("inline")
    assert f"filename*=UTF-8''{quote('签到表 8月10日.pdf')}" in disposition
    assert "private" in got.headers["Cache-Control"]


def test_only_those_who_may_see_the_drill_get_its_files(app, session, storage, setting):
    drill = setting["drill"]
    photo = add(session, storage, drill, png_bytes(), "现场.png", kind="photo")
    docx = add(session, storage, drill, ooxml_bytes("word/document.xml"), "演练方案.docx")
    session.commit()

    def client_for(username):
        client = app.test_client()
        post_form(client, "/login", {"username": username, "password": PASSWORD})
        return client

    stranger, inspector = client_for("clerk2"), client_for("insp1")
    assert stranger.get(f"/drills/{drill.id}/attachments/{photo.id}").status_code == 403
    seen = inspector.get(f"/drills/{drill.id}/attachments/{photo.id}")
    assert seen.status_code == 200 and seen.mimetype == "image/png"
    office = inspector.get(f"/drills/{drill.id}/attachments/{docx.id}")
    assert office.headers["Content-Disposition"].startswith("attachment")
    assert inspector.get(f"/drills/{drill.id}/attachments/99999").status_code == 404
    other = records.create_drill(
        session,
        title="另一次",
        kind="tabletop",
        held_on=date(2022, 8, 1),
        lead_unit=setting["daye"],
        actor=SYSTEM,
    )
    session.commit()
    assert inspector.get(f"/drills/{other.id}/attachments/{photo.id}").status_code == 404
    # The inspector reads; the upload form is for those who may write.
    assert 'name="file"' not in text(inspector.get(f"/drills/{drill.id}"))


def test_done_with_an_evidence_photo_attaches_it_to_the_action(
    app, session, storage, setting, login
):
    action = setting["action"]
    owner = login("owner1")
    photo = png_bytes("green")
    r = post_form(
        owner,
        f"/actions/{action.id}/done",
        {"evidence": "9月组织救援绳实操培训 2 次", "file": (io.BytesIO(photo), "培训照片.png")},
        content_type="multipart/form-data",
    )
    page = text(owner.get(r.location))
    assert "已报告完成" in page and "培训照片.png" in page
    session.expire_all()
    action = session.get(CorrectiveAction, action.id)
    [evidence] = action.attachments
    assert (action.status, evidence.kind, evidence.drill_id) == (
        "done",
        "evidence",
        action.finding.drill_id,
    )
    assert owner.get(f"/drills/{evidence.drill_id}/attachments/{evidence.id}").data == photo
    actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-2:] == ["action.done", "attachment.add"]


def test_done_without_a_file_still_works(app, session, setting, login):
    action = setting["action"]
    owner = login("owner1")
    post_form(
        owner,
        f"/actions/{action.id}/done",
        {"evidence": "已整改", "file": (io.BytesIO(b""), "")},
        content_type="multipart/form-data",
    )
    session.expire_all()
    assert session.get(CorrectiveAction, action.id).status == "done"
    assert session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_a_refused_evidence_file_leaves_the_action_open_and_nothing_stored(
    app, session, storage, setting, login
):
    action = setting["action"]
    owner = login("owner1")
    r = post_form(
        owner,
        f"/actions/{action.id}/done",
        {"evidence": "已整改", "file": (io.BytesIO(b"MZ\x90\x00" * 10), "photo.jpg")},
        content_type="multipart/form-data",
    )
    assert "不支持该文件类型" in text(owner.get(r.location))
    session.expire_all()
    assert session.get(CorrectiveAction, action.id).status == "open"
    assert session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert stored_files(storage) == []
    # A good file with no evidence text: the text is required, the file is not kept.
    r = post_form(
        owner,
        f"/actions/{action.id}/done",
        {"evidence": "", "file": (io.BytesIO(png_bytes()), "photo.png")},
        content_type="multipart/form-data",
    )
    assert "请填写整改证据" in text(owner.get(r.location))
    assert stored_files(storage) == []


def test_a_too_large_upload_shows_the_limit_and_changes_nothing(
    app, session, storage, setting, login
):
    clerk = login("clerk1")
    audit_before = session.scalar(select(func.count()).select_from(AuditEntry))
    r = upload(clerk, setting["drill"].id, b"%PDF-1.7\n" + b"0" * MB, "大文件.pdf")
    assert "文件太大：不能超过 1 MB。" in text(clerk.get(r.location))
    assert session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before
    assert stored_files(storage) == []


def test_upload_needs_a_valid_form(app, session, setting, login):
    clerk = login("clerk1")
    r = clerk.post(
        f"/drills/{setting['drill'].id}/attachments",
        data={"kind": "photo", "file": (io.BytesIO(png_bytes()), "p.png")},
        content_type="multipart/form-data",
    )
    assert r.status_code in (302, 400)
    assert session.scalar(select(func.count()).select_from(Attachment)) == 0
    missing = upload(clerk, setting["drill"].id, b"", "")
    assert "请选择要上传的文件" in text(clerk.get(missing.location))
    assert upload(clerk, 99999, png_bytes(), "p.png").status_code == 404


def test_the_default_limit_is_10_mb():
    from readiness.config import DEFAULTS

    assert DEFAULTS["ATTACHMENT_MAX_BYTES"] == 10 * MB


# ---------------------------------------------------------------- API


def api_upload(client, token, drill_id, data, filename, **fields):
    return client.post(
        f"/api/v1/drills/{drill_id}/attachments",
        data={"file": (io.BytesIO(data), filename), **fields},
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )


def test_api_upload_and_download(client, session, setting, make_token):
    drill, action = setting["drill"], setting["action"]
    token = make_token(setting["clerk"])
    data = pdf_bytes("评估报告")
    r = api_upload(client, token, drill.id, data, "评估报告.pdf", kind="evaluation")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body == {
        "id": body["id"],
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "content_type": "application/pdf",
        "filename": "评估报告.pdf",
    }
    got = client.get(
        f"/api/v1/drills/{drill.id}/attachments/{body['id']}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert got.status_code == 200 and got.data == data
    owner = make_token(setting["owner"])
    evidence = api_upload(client, owner, drill.id, png_bytes(), "e.png", action_id=str(action.id))
    # The owner is a clerk: drills.write on their unit, so the API lets them upload evidence.
    assert evidence.status_code == 201
    assert session.get(Attachment, evidence.get_json()["id"]).kind == "evidence"


def test_api_errors_are_json(client, session, setting, make_token):
    drill = setting["drill"]
    token = make_token(setting["clerk"])
    bad = api_upload(client, token, drill.id, b"<html></html>", "x.pdf", kind="plan")
    assert bad.status_code == 422
    assert bad.get_json()["error"]["code"] == "validation_error"
    assert "不支持该文件类型" in bad.get_json()["error"]["message"]
    no_kind = api_upload(client, token, drill.id, pdf_bytes(), "x.pdf")
    assert no_kind.status_code == 422 and no_kind.get_json()["error"]["field"] == "kind"
    stranger = make_token(setting["stranger"])
    assert (
        api_upload(client, stranger, drill.id, pdf_bytes(), "x.pdf", kind="plan").status_code == 403
    )
    a = add(session, Path(client.application.config["ATTACHMENT_DIR"]), drill, pdf_bytes(), "a.pdf")
    session.commit()
    denied = client.get(
        f"/api/v1/drills/{drill.id}/attachments/{a.id}",
        headers={"Authorization": f"Bearer {stranger}"},
    )
    assert denied.status_code == 403 and denied.get_json()["error"]["code"] == "forbidden"
    missing = client.get(
        f"/api/v1/drills/{drill.id}/attachments/99999",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    assert session.scalar(select(func.count()).select_from(Attachment)) == 1
