"""A page's HTTP errors speak the reader's language, never Werkzeug's English."""

import pytest

from tests.conftest import scratch_app


def test_an_unknown_page_is_not_found_in_chinese(client):
    r = client.get("/no-such-page")
    assert r.status_code == 404
    page = r.get_data(as_text=True)
    assert "未找到该页面或记录" in page
    assert "requested URL" not in page


def test_an_unknown_page_in_english(client):
    r = client.get("/no-such-page?lang=en")
    assert r.status_code == 404
    assert "Page or record not found" in r.get_data(as_text=True)


def test_an_upload_over_the_limit_names_the_limit(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    try:
        r = client.post("/login", data={"username": "x" * (2 * 1024 * 1024), "password": "y"})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert r.status_code == 413
    assert "上传的内容太大（不能超过 1 MB）" in r.get_data(as_text=True)


@pytest.fixture
def csrf_app(tmp_path):
    with scratch_app(tmp_path, "csrf.db", RATELIMIT_STORAGE_URI="memory://") as app:
        yield app


def test_a_form_without_its_csrf_token_has_expired(csrf_app):
    r = csrf_app.test_client().post("/login", data={"username": "a", "password": "b"})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "页面已过期，请刷新后重新提交" in page
    assert "CSRF" not in page
