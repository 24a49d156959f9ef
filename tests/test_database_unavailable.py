"""The database going away: every API answer is 503 ``service_unavailable``, pages a
Chinese error page that does not reach for the database, and stale pooled connections
are tested before use, so the first request after a restart succeeds."""

import socket
import threading
import uuid
from datetime import datetime
from types import SimpleNamespace

import psycopg
import pytest
from sqlalchemy import text

from app import create_app
from app.auth import services
from app.extensions import db
from tests.conftest import scratch_app

CLOSED_PORT = "postgresql://postgres@127.0.0.1:1/moralbank?connect_timeout=2"


@pytest.fixture
def down_app(tmp_path):
    """An app whose database never answers (nothing listens on its port)."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": CLOSED_PORT,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    app.instance_path = str(tmp_path)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def bearer(app) -> dict:
    someone = SimpleNamespace(id=1, token_version=1)
    with app.app_context():
        token, _ = services.issue_token(someone, app.config["SECRET_KEY"], 3600, datetime.now())
    return {"Authorization": f"Bearer {token}"}


def assert_503_json(r) -> None:
    assert r.status_code == 503, (r.status_code, r.get_data(as_text=True)[:300])
    error = r.get_json()["error"]
    assert error["code"] == "service_unavailable" and "数据库" in error["message"]
    assert r.headers["Retry-After"]


def api_routes(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api-docs"):
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", "1").replace(f"<{arg}>", "1")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path


def test_every_api_endpoint_answers_503(down_app):
    client = down_app.test_client()
    headers = bearer(down_app)
    seen = 0
    for method, path in api_routes(down_app):
        if path == "/api/v1/auth/token":
            r = client.post(path, json={"username": "someone", "password": "secret-pass"})
        else:
            r = client.open(path, method=method, headers=headers, json={})
        assert_503_json(r)
        seen += 1
    assert seen > 30


def test_pages_show_a_chinese_error_page_without_the_database(down_app, monkeypatch):
    from app.extensions import login_manager

    monkeypatch.setattr(login_manager, "session_protection", None)  # a session made by hand
    client = down_app.test_client()
    r = client.post("/login", data={"username": "someone", "password": "secret-pass"})
    assert r.status_code == 503 and r.headers["Retry-After"]
    page = r.get_data(as_text=True)
    assert "数据库暂时无法连接，请稍后再试" in page and "<html" in page
    # A logged-in browser: loading its user needs the database, and so would the header
    # of the usual error page.
    with client.session_transaction() as s:
        s["_user_id"] = "1:1"
    for path in ("/", "/households", "/no-such-page"):
        r = client.get(path)
        assert r.status_code == 503, path
        assert "数据库暂时无法连接" in r.get_data(as_text=True)


def test_the_english_page_too(down_app):
    client = down_app.test_client()
    client.get("/login?lang=en")
    r = client.post("/login", data={"username": "someone", "password": "secret-pass"})
    assert r.status_code == 503 and 'lang="en"' in r.get_data(as_text=True)


def test_a_database_host_that_never_answers_is_given_up_on(tmp_path):
    """A host that takes the connection and then says nothing (a server hung, a network
    dropping packets): the request ends with 503 after the connect timeout, instead of
    holding the worker until gunicorn kills it."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nothing ever answers
    port = silent.getsockname()[1]
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": f"postgresql://postgres@127.0.0.1:{port}/moralbank",
            "DATABASE_CONNECT_TIMEOUT": 1,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    answers = []
    worker = threading.Thread(
        target=lambda: answers.append(app.test_client().get("/api/v1/auth/me", headers=bearer(app))), daemon=True
    )
    try:
        worker.start()
        worker.join(60)  # not a speed limit: without a timeout it would wait for ever
        assert answers, "the request still waits on a database that never answers"
        assert_503_json(answers[0])
    finally:
        silent.close()
        with app.app_context():
            db.engine.dispose()


def test_pooled_connections_are_tested_before_use(app):
    with app.app_context():
        assert db.engine.pool._pre_ping


# --- a PostgreSQL restart: backends terminated under a warm pool -----------------------------


def postgres_server() -> str | None:
    try:
        psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=2).close()
    except psycopg.Error:
        return None
    return "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def pg_app(tmp_path):
    server = postgres_server()
    if server is None:
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    name = f"moralbank_ping_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": f"{server}/{name}",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    with app.app_context():
        db.create_all()
        services.create_user(db.session, None, {"username": "alice", "password": "secret-pass", "roles": ["admin"]})
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def terminate_backends(app) -> int:
    with app.app_context():
        name = db.engine.url.database
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        return conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s", (name,)
        ).fetchone()[0]


def test_after_a_restart_the_next_request_succeeds(pg_app):
    client = pg_app.test_client()
    token = client.post("/api/v1/auth/token", json={"username": "alice", "password": "secret-pass"}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(3):  # warm the pool
        assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    assert terminate_backends(pg_app) >= 1  # what a restart does to the pooled connections
    for _ in range(3):
        r = client.get("/api/v1/auth/me", headers=headers)
        assert r.status_code == 200, r.get_json()
    with pg_app.app_context():
        assert db.session.execute(text("SELECT 1")).scalar() == 1


# --- the login limits' store gone: Redis down is a 503 too, never a 500 --------------------


@pytest.fixture
def redis_down_app(tmp_path, monkeypatch):
    """A working database, but the login limits counted in a Redis that does not answer.
    The limiter is one object for the process: the session app gets its store back after."""
    from app.extensions import limiter

    monkeypatch.setattr(limiter, "_storage", limiter._storage)
    monkeypatch.setattr(limiter, "_limiter", limiter._limiter)
    with scratch_app(
        tmp_path, "ok.db", WTF_CSRF_ENABLED=False, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1"
    ) as app:  # nothing listens there
        yield app


def test_redis_down_refuses_logins_with_503_not_500(redis_down_app):
    client = redis_down_app.test_client()
    r = client.post("/api/v1/auth/token", json={"username": "someone", "password": "secret-pass"})
    assert r.status_code == 503, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.get_json()["error"]["code"] == "service_unavailable" and r.headers["Retry-After"]
    r = client.post("/login", data={"username": "someone", "password": "secret-pass"})
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert "暂时无法服务" in r.get_data(as_text=True)
    assert client.get("/login").status_code == 200  # the page itself counts nothing
