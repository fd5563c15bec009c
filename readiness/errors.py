"""Domain errors raised by services; pages put them on forms, the API maps them to JSON."""

from __future__ import annotations


class DomainError(Exception):
    """A rule refused the request. ``message`` is already translated for the user."""

    status = 422
    code = "validation_error"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request clashes with the current state (duplicate, wrong state, stale form)."""

    status = 409
    code = "conflict"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class Refusals(DomainError):
    """Refused for one or more reasons, each with the field it concerns, so that a form shows
    every one at once. ``field`` is the first one's; ``message`` says them all, as an API
    answer does."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__(" ".join(m for _f, m in problems), field=problems[0][0])
        self.problems = problems
