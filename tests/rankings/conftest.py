"""Fixtures shared by the rankings page tests."""

import pytest


@pytest.fixture
def login(auth):
    def as_(username):
        auth.logout()
        assert auth.login(username).status_code == 302
        return auth.client

    return as_
