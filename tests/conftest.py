"""Fixtures: a fresh database per test (SQLite file, or the PostgreSQL server named by
``TEST_DATABASE_URL``), a client, an API helper and data factories."""

import os
from contextlib import contextmanager
from datetime import date

import pytest
from flask import g

from app import clock, create_app
from app.auth import models as auth_models
from app.extensions import db, limiter
from tests import factories

auth_models.PASSWORD_METHOD = "pbkdf2:sha256:1000"  # fast hashes in tests
# One working day for the whole run: expectations computed at import must still hold
# when the suite runs across midnight in Shanghai (CI once failed that way).
clock.pin_day(clock.local_today("Asia/Shanghai"))

TODAY = date(2026, 11, 20)


@contextmanager
def scratch_app(tmp_path, name: str, **config):
    """An app of its own on a new SQLite file, for settings the session's app cannot take
    (CSRF on, a store that does not answer, …); its tables made, its engine disposed after."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / name}",
            **config,
        }
    )
    app.instance_path = str(tmp_path)
    with app.app_context():
        db.create_all()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def database_url(tmp_path) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(scope="session")
def _app(tmp_path_factory):
    """One application for the run: building one (its OpenAPI document above all) takes
    most of a second, so tests share it and get a clean database instead."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": database_url(tmp_path_factory.mktemp("db")),
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()

    @app.before_request
    def _fresh_request_state():
        """The ``session`` fixture keeps an app context pushed, and Flask reuses it for
        test-client requests: forget what a previous request cached in ``g`` (the
        Flask-Login user, Flask-Babel's locale, Flask-WTF's CSRF token), as a real request would."""
        for key in ("_login_user", "_flask_babel", "csrf_token"):
            g.pop(key, None)

    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def _empty_tables() -> None:
    tables = db.metadata.sorted_tables
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        else:
            for table in reversed(tables):
                conn.execute(table.delete())


@pytest.fixture
def app(_app, tmp_path):
    """The shared app with empty tables, its own instance folder and its own config."""
    config = dict(_app.config)
    _app.instance_path = str(tmp_path / "instance")
    os.makedirs(_app.instance_path, exist_ok=True)
    with _app.app_context():
        _empty_tables()
        limiter.reset()
    yield _app
    with _app.app_context():
        db.session.remove()
    _app.config.clear()
    _app.config.update(config)


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def world(session):
    """Two villages with staff, households and rules: the usual cast of a test."""
    return factories.World.build(session)


class ApiClient:
    """Calls the API as a user: ``api.as_("tj_recorder").post("/entries", json=...)``."""

    def __init__(self, client):
        self.client = client
        self.headers = {}

    def as_(self, username: str, password: str = factories.PASSWORD) -> "ApiClient":
        r = self.client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert r.status_code == 200, r.get_json()
        other = ApiClient(self.client)
        other.headers = {"Authorization": f"Bearer {r.get_json()['token']}"}
        return other

    def _call(self, method, path, headers=None, **kwargs):
        return self.client.open("/api/v1" + path, method=method, headers={**self.headers, **(headers or {})}, **kwargs)

    def get(self, path, **kw):
        return self._call("GET", path, **kw)

    def post(self, path, **kw):
        return self._call("POST", path, **kw)

    def put(self, path, **kw):
        return self._call("PUT", path, **kw)

    def patch(self, path, **kw):
        return self._call("PATCH", path, **kw)


@pytest.fixture
def api(client):
    return ApiClient(client)


class PageAuth:
    def __init__(self, client):
        self.client = client

    def login(self, username: str, password: str = factories.PASSWORD):
        return self.client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return PageAuth(client)
