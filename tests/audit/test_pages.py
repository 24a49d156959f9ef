"""The audit log page."""

import pytest

from app.households.services import update_household
from app.schemes.services import set_village_scheme as set_scheme


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def acts(world, session):
    h = world.households["tj2"]
    update_household(session, world.actor("tj_village_admin"), h.id, {"head_name": "王秀英", "phone": "13800001111"})
    scheme = world.a.scheme() | {"approval_required": True}
    set_scheme(session, world.actor("tj_village_admin"), world.a.id, scheme)
    update_household(session, world.actor("xf_village_admin"), world.households["xf2"].id, {"head_name": "赵某"})
    session.commit()


def test_village_admin_sees_its_village_log_in_chinese(world, acts, auth, client):
    auth.login("tj_village_admin")
    r = client.get("/audit")
    assert r.status_code == 200
    page = text(r)
    assert "修改农户资料" in page and "修改积分方案" in page and "登记农户" in page
    assert "户主: 户主tj2 → 王秀英" in page
    assert "电话: （空） → 13800001111" in page
    assert "记分须审核: 否 → 是" in page
    assert "tj_village_admin" in page and "127.0.0.1" in page
    assert "赵某" not in page and "XF-001" not in page


def test_times_are_local(world, acts, auth, client, session):
    from app.audit.models import AuditLog
    from app.clock import to_local_iso

    row = session.query(AuditLog).filter_by(action="village.scheme").one()
    auth.login("tj_reviewer")
    assert to_local_iso(row.at, "Asia/Shanghai")[:19].replace("T", " ") in text(client.get("/audit"))


def test_filter_by_action_and_search(world, acts, auth, client):
    auth.login("tj_reviewer")
    page = text(client.get("/audit?action=village.scheme"))
    assert "修改积分方案" in page and "王秀英" not in page
    assert '<option value="village.scheme" selected>' in page
    page = text(client.get("/audit?q=王秀英"))
    assert "王秀英" in page and "TJ-001 户主tj1" not in page


def test_admin_sees_every_village(world, acts, auth, client):
    auth.login("admin")
    page = text(client.get("/audit"))
    assert "王秀英" in page and "赵某" in page and "新建村" in page
    page = text(client.get(f"/audit?village_id={world.b.id}"))
    assert "赵某" in page and "王秀英" not in page


def test_recorders_and_residents_cannot_read_the_log(world, auth, client):
    auth.login("tj_recorder")
    assert client.get("/audit").status_code == 403
    auth.logout()
    auth.login("tj_resident")
    assert client.get("/audit").status_code == 403
