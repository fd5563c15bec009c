"""Shelter pages: coverage, sites, inspections, towns and villages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("shelters", __name__, url_prefix="/shelters")
