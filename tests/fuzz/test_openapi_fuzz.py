"""Schemathesis against /api/v1/openapi.json, through the WSGI app, as an admin and as a
resident: every operation, no 5xx, every response valid against the document.

``FUZZ_EXAMPLES`` sets the examples per operation and user: a few in ``make test``,
more in ``.ci/run``.
"""

import os
from io import BytesIO

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select

from app import create_app
from app.auth import models as auth_models
from app.auth.models import User
from app.extensions import db
from app.households.models import Household
from app.points.models import Rule
from app.regions.models import Region
from app.villages.models import Village
from tests.factories import PASSWORD, World

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
USERS = ("admin", "tj_resident")


# Refusals a static OpenAPI 3.0 document cannot state: a rule across fields (a resident
# names its household, a village role its village) or relative to today.
CROSS_FIELD = {
    ("POST", "/api/v1/users"): {"village_id", "household_id"},
    ("POST", "/api/v1/entries"): {"occurred_on", "account_id"},
    ("POST", "/api/v1/entries/batch"): {"occurred_on", "account_ids"},
    ("POST", "/api/v1/redemptions"): {"account_id"},
    ("GET", "/api/v1/redemptions"): {"account_id"},
    # a scheme of persons, a number not yet taken, a village and household in its area
    ("POST", "/api/v1/accounts"): {"scheme_id", "number", "village_id", "household_id"},
    # a month only in a monthly scheme; one of village_id or scheme_id (both: the same
    # scheme, else 422 on scheme_id); a fund with its split
    ("GET", "/api/v1/leaderboards"): {"period", "scheme_id"},
    ("GET", "/api/v1/leaderboards/villages"): {"period"},
    ("GET", "/api/v1/periods/{period}"): {"period", "village_id", "scheme_id"},
    ("GET", "/api/v1/objections"): {"scheme_id"},
    ("GET", "/api/v1/awards"): {"scheme_id"},
    ("GET", "/api/v1/rules"): {"scheme_id"},
    ("GET", "/api/v1/schemes"): {"region_id"},  # a village or a region, not both
    ("POST", "/api/v1/periods/{period}/close"): {"period"},
    ("POST", "/api/v1/periods/{period}/finalize"): {"period"},
    # household_id and account_id, where both are given, name the same account
    ("POST", "/api/v1/objections"): {"period", "scheme_id", "account_id"},
    ("POST", "/api/v1/awards"): {"period", "fund_yuan", "allocation"},
}


# Refusals of a value someone already holds (422 on that field, like any field's): a
# username, a code, a household number. Which values are taken is the data's, not the
# document's; the check looks each one up (ignoring case and surrounding space, as the
# services compare them) rather than trusting the field's name.
UNIQUE = {
    ("POST", "/api/v1/users"): {"username": User.username},
    ("POST", "/api/v1/regions"): {"code": Region.code},
    ("POST", "/api/v1/villages"): {"code": Village.code},
    ("POST", "/api/v1/households"): {"number": Household.number},
    ("PATCH", "/api/v1/households/{household_id}"): {"number": Household.number},
    ("POST", "/api/v1/rules"): {"code": Rule.code},
    ("PATCH", "/api/v1/rules/{rule_id}"): {"code": Rule.code},
}


def _detail_fields(response) -> set:
    try:
        return set(response.json()["error"]["details"])
    except (ValueError, KeyError, TypeError):
        return set()


def _cross_field(case, response) -> bool:
    allowed = CROSS_FIELD.get((case.method.upper(), case.operation.full_path), set())
    fields = _detail_fields(response)
    return bool(fields) and fields <= allowed


def _taken(case, response) -> bool:
    """Every field the 422 names is unique in the operation and its value is held already."""
    unique = UNIQUE.get((case.method.upper(), case.operation.full_path), {})
    fields = _detail_fields(response)
    body = case.body if isinstance(case.body, dict) else {}
    if not fields or not fields <= unique.keys() or not all(isinstance(body.get(f), str) for f in fields):
        return False
    with case.operation.schema.app.app_context():
        return all(
            db.session.scalar(select(unique[f]).where(func.lower(unique[f]) == body[f].strip().lower()).limit(1))
            is not None
            for f in fields
        )


@st.composite
def photos(draw, fmt: str) -> bytes:
    """A small JPEG or PNG: what the document's ``image/jpeg, image/png`` file part is
    (schemathesis would send any bytes under that name)."""
    size = (draw(st.integers(1, 48)), draw(st.integers(1, 48)))
    mode = draw(st.sampled_from(["RGB", "L"] if fmt == "JPEG" else ["RGB", "RGBA", "L", "P", "1"]))
    out = BytesIO()
    Image.new(mode, size, draw(st.integers(0, 255))).save(out, fmt)
    return out.getvalue()


schemathesis.openapi.media_type("image/jpeg", photos("JPEG"))
schemathesis.openapi.media_type("image/png", photos("PNG"))


@schemathesis.check
def documented_input_accepted(ctx, response, case):
    """A request valid by the document is not refused for its form (422, or 400 for a
    malformed one): the document states the limits the server enforces. A 400 for a
    reference to nothing (an id that does not exist: ``not_found``) or a 422 for a value
    already taken is the data's, not the document's, as 404 and 409 are."""
    if response.status_code == 422 and (_cross_field(case, response) or _taken(case, response)):
        return None
    if response.status_code == 400:
        try:
            code = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = None
        if code == "not_found":
            return None
    return positive_data_acceptance(ctx, response, case)


# The guarantee: no 5xx, every status, content type and body as the document says, and
# what the document calls valid accepted.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    documented_input_accepted,
]


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    """An app of its own with the usual two villages, shared by every example: what the
    fuzzer writes stays, as it would on a server."""
    auth_models.PASSWORD_METHOD = "pbkdf2:sha256:1000"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            # Its own SQLite file whatever the run's database: this app drops its tables.
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "LOGIN_RATE_LIMIT": "100000 per minute",
            "LOGIN_IP_RATE_LIMIT": "100000 per minute",
        }
    )
    app.instance_path = str(tmp_path_factory.mktemp("fuzz-instance"))
    with app.app_context():
        db.drop_all()
        db.create_all()
        World.build(db.session)
        db.session.commit()
    client = app.test_client()
    app.fuzz_tokens = {}
    for username in USERS:
        r = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        app.fuzz_tokens[username] = r.get_json()["token"]
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def fuzz(app, username: str) -> list[str]:
    """Every operation of the document, ``EXAMPLES`` cases each (schemathesis' pytest
    plugin does not run on this pytest): what failed, one line per operation."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {app.fuzz_tokens[username]}"}
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same examples on every run: a CI failure reproduces
            database=None,
            phases=[Phase.explicit, Phase.generate],  # shrinking costs more than it tells here
        )
        def run(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # every operation is tried, every failure told
            failures.append(f"{operation.label}: {str(exc).strip()[:1500]}")
    assert operations > 30
    return failures


@pytest.mark.fuzz
@pytest.mark.parametrize("username", USERS)
def test_every_operation_holds_to_the_document(fuzz_app, username):
    failures = fuzz(fuzz_app, username)
    assert not failures, "\n\n".join(failures)
