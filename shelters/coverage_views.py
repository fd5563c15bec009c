"""The coverage page: villages covered by standardized shelter sites, per town, against the target."""

from __future__ import annotations

from shelters.views import bp  # noqa: F401  (routes are added to the shelters blueprint)
