import pytest


@pytest.fixture
def login(auth):
    """Log in as someone else (logging out first: the test client shares one app context)."""

    def as_(username):
        auth.logout()
        r = auth.login(username)
        assert r.status_code == 302, username
        return auth.client

    return as_
