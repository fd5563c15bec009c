"""Readiness: the application factory."""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from flask import Flask
from werkzeug.routing import IntegerConverter

ROOT = Path(__file__).resolve().parent.parent


class RecordIdConverter(IntegerConverter):
    """``<int:…>`` in routes: 0 to 2³¹ − 1, the range of an id column on every backend."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, CLI."""
    # Feature packages; importing their models makes their tables known to migrations.
    import drills
    import drills.models
    import funding
    import funding.models
    import inventory
    import inventory.models
    import labels
    import labels.models
    import overview
    import overview.models
    import rectification
    import rectification.models
    import shelters
    import shelters.models
    from readiness import api, cli, demo, i18n, security, serving, web
    from readiness.auth import init_auth
    from readiness.config import load_config
    from readiness.extensions import csrf, db, migrate

    app = Flask(
        __name__,
        instance_path=os.environ.get("READINESS_INSTANCE_PATH") or str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    # Record ids in URLs are database integers: a larger number is simply not found
    # (SQLite and PostgreSQL would otherwise fail on it with a server error).
    app.url_map.converters["int"] = RecordIdConverter
    load_config(app, test_config)
    security.init_app(app)
    # Reports can be tens of thousands of rows; key order is fixed by the code, not sorted.
    app.json.sort_keys = False
    db.init_app(app)
    serving.init_app(app)
    migrate.init_app(
        app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True
    )
    csrf.init_app(app)
    i18n.init_app(app)
    init_auth(app)
    web.init_app(app)
    api.init_app(app)
    cli.init_app(app)
    demo.init_app(app)
    rectification.init_app(app)
    inventory.init_app(app)
    labels.init_app(app)
    drills.init_app(app)
    shelters.init_app(app)
    overview.init_app(app)
    funding.init_app(app)
    return app


def tune_garbage_collector() -> None:
    """Set the cycle collector up for a server process that has loaded (issue 21).

    - Freeze what is loaded so far (modules, mappers, templates, fonts, the app itself):
      these live as long as the process, and left in the collector's oldest generation
      every full collection walks them all again. A report that builds tens of thousands
      of rows triggers several; on the city data set that doubled the shortfall report's
      CPU time. Python's documentation recommends ``gc.freeze()`` once a server process
      has loaded.
    - Collect the youngest generation every 50,000 allocations instead of every 700: a
      report's rows are long-lived containers, and hundreds of young collections walking
      them cost a fifth of the report at four times the city. Garbage cycles wait a little
      longer to be freed; nothing else changes.

    Each gunicorn worker imports ``wsgi`` and calls this once (the bench too)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, older, oldest)


YOUNG_COLLECTION_EVERY = 50_000


_pause_lock = threading.Lock()
_pausing = 0  # reports being built now, in this process
_was_enabled = True


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """No cycle collection while a report builds its rows (issue 21).

    A report's rows are tens of thousands of long-lived objects made in one go: the
    collector would walk them at every collection it triggers, with the reports already
    held in the cache (a fifth to a third of the shortfall report's time on the city data
    set). Reference counting frees everything as usual; cycles made meanwhile are collected
    once the last report being built in the process is done."""
    global _pausing, _was_enabled
    with _pause_lock:
        if _pausing == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pausing += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pausing -= 1
            if _pausing == 0 and _was_enabled:
                gc.enable()
