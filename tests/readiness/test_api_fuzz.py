"""Schemathesis fuzzes every operation of /api/v1/openapi.json with a valid command token:
no input makes the API answer 500, every answer has a status and a content type the
document declares and a body that matches the declared schema (the models the answers are
serialised from), and every refusal has the error shape the API promises.
Bounded: a few cases an operation (a few hundred in all)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from readiness.permissions import SYSTEM

pytestmark = pytest.mark.slow  # the schemathesis fuzz of every API operation

CASES_PER_OPERATION = 6


@pytest.fixture
def api_schema(app, session, make_unit, make_user, make_item, stock):
    """The served OpenAPI document, over a database with a little of everything in it."""
    bureau = make_unit("DF", kind="bureau")
    station = make_unit("DAYE", parent=bureau)
    item = make_item("LJ", name="救生衣")
    stock(station, item, 10)
    from shelters import places

    places.save_town(
        session,
        code="ST",
        name="石塘镇",
        parent=bureau,
        villages=[places.VillageInput("海山村", 100, 10)],
        actor=SYSTEM,
    )
    session.commit()
    make_user("fuzz", "command", bureau)
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture
def bearer(session, make_token):
    from sqlalchemy import select

    from readiness.models import User

    user = session.scalar(select(User).where(User.username == "fuzz"))
    return {"Authorization": f"Bearer {make_token(user)}"}


@schemathesis.check
def error_has_the_promised_shape(ctx, response, case):
    """Any 4xx answer is JSON {"error": {"code", "message"}}."""
    if 400 <= response.status_code < 500:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        assert isinstance(error, dict), f"{response.status_code} without an error object"
        assert isinstance(error.get("code"), str) and error["code"], "error without a code"
        assert isinstance(error.get("message"), str) and error["message"], "error without text"


def test_no_input_makes_the_api_fail(api_schema, bearer):
    # Operations are walked here rather than through schemathesis' pytest plugin, whose lazy
    # parametrisation does not work with pytest 9.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 40
    statuses = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=CASES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case):
            response = case.call_and_validate(
                headers=bearer,
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                    error_has_the_promised_shape,
                ],
            )
            statuses.append(response.status_code)

        try:
            fuzz()
        except Exception as err:
            raise AssertionError(f"{operation.label}: {err}") from err
    # a few hundred cases, and they reached the rules, not only the parsers
    assert len(statuses) >= 200
    assert any(200 <= s < 300 for s in statuses) and any(s == 422 for s in statuses)
