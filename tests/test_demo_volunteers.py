"""The demo's volunteers: 团结村's 志愿积分 at 2 yuan a point, its 爱心超市, and the
logins of a volunteer's household and of the shop's clerk."""

from sqlalchemy import select

from app.accounts.services import list_accounts
from app.auth.models import User
from app.demo import load_demo, print_logins
from app.households.models import Household
from app.points.proof import verify
from app.redemption.models import Item, Shop
from app.schemes.models import Scheme
from app.scope import Actor


def test_the_demo_runs_a_volunteer_scheme_with_its_love_shop(session, capsys):
    assert load_demo(session) is True
    session.commit()
    scheme = session.scalar(select(Scheme).where(Scheme.name == "志愿积分"))
    assert (scheme.account_kind, scheme.yuan_per_point) == ("person", 2.0)
    volunteers = session.scalars(select(Household).where(Household.scheme_id == scheme.id)).all()
    assert len(volunteers) == 5 and all(v.kind == "person" and v.village_id is None for v in volunteers)
    assert all(v.balance > 0 for v in volunteers)  # every one has entries
    shop = session.scalar(select(Shop).where(Shop.name == "爱心超市"))
    assert shop.scheme_id == scheme.id
    assert len(session.scalars(select(Item).where(Item.shop_id == shop.id)).all()) >= 3
    clerk = session.scalar(select(User).where(User.username == "tj_love_clerk"))
    assert clerk.shop_id == shop.id and clerk.roles == ["clerk"]
    home = session.scalar(select(User).where(User.username == "tj_volunteer"))
    seen = session.scalars(list_accounts(session, Actor(home), scheme.id)).all()
    assert sorted(a.name for a in seen) == ["李爱心", "陈志愿"]  # the two of its household
    assert verify(session) == []
    assert load_demo(session) is False
    print_logins()
    out = capsys.readouterr().out
    assert "tj_volunteer" in out and "tj_love_clerk" in out


def test_the_demos_logins_go_by_peoples_names(session):
    """A passbook's 记录人 and a receipt's 店员 show the user's display name: never a login."""
    load_demo(session)
    session.commit()
    users = session.scalars(select(User)).all()
    assert users and all(u.display_name and u.display_name != u.username for u in users)
    home = session.scalar(select(User).where(User.username == "tj_volunteer"))
    assert home.display_name == session.get(Household, home.household_id).head_name
