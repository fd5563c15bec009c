"""Sending an acceptance document to whoever may see its site (pages and API alike)."""

from __future__ import annotations

import io

from flask import abort, current_app, send_file

from readiness.config import storage_dir
from readiness.files import INLINE_TYPES
from shelters.acceptance import document_path
from shelters.models import AcceptanceDocument


def send_document(document: AcceptanceDocument):
    """The stored bytes: images and PDF shown in the browser, the rest downloaded."""
    path = document_path(storage_dir(), document.sha256)
    if not path.is_file():
        current_app.logger.error("acceptance document %s: file %s is missing", document.id, path)
        abort(404)
    response = send_file(
        io.BytesIO(path.read_bytes()),
        mimetype=document.content_type,
        as_attachment=document.content_type not in INLINE_TYPES,
        download_name=document.filename,
        etag=document.sha256,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True
    return response
