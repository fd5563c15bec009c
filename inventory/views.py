"""Pages for items, the standard, stock, the ledger, stocktakes and reports."""

from flask import Blueprint

bp = Blueprint("inventory", __name__)
