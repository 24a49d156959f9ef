import pytest

from app.redemption import shops as shop_services
from tests.factories import NOW
from tests.redemption.test_services import build_shop, give_points
from tests.regions.conftest import county  # noqa: F401  (the county of two townships)
from tests.volunteers import person, volunteer_scheme


@pytest.fixture
def love(world, session):
    """团结村's 志愿积分 (1 point = 2 yuan), two volunteers (one of household tj1) and its
    爱心超市 with 毛巾 (20 points); 团结村's household shop beside it."""
    scheme = volunteer_scheme(session, world)
    v1 = person(session, world, scheme, "V001", "李志愿", linked=world.households["tj1"])
    v2 = person(session, world, scheme, "V002", "张热心")
    admin = world.actor("tj_village_admin")
    shop = shop_services.create_shop(session, admin, world.a.id, "爱心超市", scheme_id=scheme.id)
    towel = shop_services.create_item(
        session, admin, shop.id, {"name": "毛巾", "price_points": 20, "stock": 5}, now=NOW
    )
    session.commit()
    give_points(session, world, v1, 100)
    household_shop = build_shop(session, world)
    return {"scheme": scheme, "v1": v1, "v2": v2, "shop": shop, "towel": towel, "household_shop": household_shop}
