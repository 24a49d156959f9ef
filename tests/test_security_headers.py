"""Security headers on every response (pages, the API, static files, errors) and
Secure cookies in production only."""

import re
from pathlib import Path

import pytest

from app import create_app
from app.config import Config
from app.security_headers import CONTENT_SECURITY_POLICY

APP = Path(__file__).resolve().parent.parent / "app"


def assert_secure_headers(response):
    csp = response.headers["Content-Security-Policy"]
    assert csp == CONTENT_SECURITY_POLICY
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe" not in csp
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(
    "path, status",
    [
        ("/login", 200),
        ("/standings", 302),
        ("/no-such-page", 404),
        ("/api/v1/households", 401),
        ("/api/v1/openapi.json", 200),
        ("/api/v1/docs", 200),
        ("/static/css/app.css", 200),
        ("/favicon.ico", 200),
    ],
)
def test_every_response_carries_the_security_headers(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert_secure_headers(response)


def test_pages_of_a_logged_in_user_carry_them(world, auth, client):
    auth.login("tj_recorder")
    for path in ("/", "/record", "/households", "/standings", "/stats"):
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 200, path
        assert_secure_headers(response)


def test_the_favicon_is_served_where_browsers_look(client):
    response = client.get("/favicon.ico")
    assert response.mimetype == "image/svg+xml" and b"<svg" in response.data
    assert 'rel="icon"' in client.get("/login").get_data(as_text=True)


def test_no_template_or_chart_carries_inline_style_or_script():
    """What the CSP would refuse: an inline <style>, style="", on…="" handler, inline
    <script> code or a javascript: link (data blocks of type application/json are not code)."""
    forbidden = re.compile(
        r"<style|\sstyle=|\son[a-z]+=|javascript:|<script(?![^>]*\ssrc=)(?![^>]*type=\"application/json\")"
    )
    offenders = [
        f"{path.relative_to(APP)}: {match.group(0)}"
        for path in [*APP.rglob("*.html"), APP / "rankings" / "charts.py"]
        for match in forbidden.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def _production_app(monkeypatch, **env):
    monkeypatch.delenv("MORALBANK_DEV", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # No test_config: the configuration production reads (Config, read from the
    # environment when imported, and the instance file).
    monkeypatch.setattr(Config, "SECRET_KEY", "production-secret")
    monkeypatch.setattr(Config, "SQLALCHEMY_DATABASE_URI", "sqlite://")
    monkeypatch.setattr(Config, "RATELIMIT_STORAGE_URI", "memory://")  # the limiter is shared by every app
    return create_app()


def test_production_cookies_are_secure(monkeypatch):
    app = _production_app(monkeypatch)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_plain_http_deployments_may_opt_out(monkeypatch):
    assert _production_app(monkeypatch, SESSION_COOKIE_SECURE="0").config["SESSION_COOKIE_SECURE"] is False


def test_development_and_tests_keep_cookies_usable_over_http(app, monkeypatch):
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert _production_app(monkeypatch, MORALBANK_DEV="1").config["SESSION_COOKIE_SECURE"] is False
