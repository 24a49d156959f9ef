"""Fixtures shared by the rankings page tests."""

import pytest

from tests.regions.conftest import county  # noqa: F401  (the county of two townships)


@pytest.fixture
def login(auth):
    def as_(username):
        auth.logout()
        assert auth.login(username).status_code == 302
        return auth.client

    return as_
