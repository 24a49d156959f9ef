from tests.regions.conftest import county  # noqa: F401  (the county of two townships)
