"""The top menu is rendered once per kind of user (app.nav): each user must still get
the menu of their own roles, household and language."""

import re


def menu(client, path="/standings"):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'<nav class="menu">(.*?)</nav>', html, re.S).group(1)


def test_each_user_gets_the_menu_of_their_roles_household_and_language(world, auth, client):
    auth.login("tj_recorder")
    recorder = menu(client)
    assert "记分" in recorder and "审核" not in recorder and "我的存折" not in recorder
    auth.logout()

    auth.login("tj_resident")
    tj = menu(client)
    assert f'href="/households/{world.households["tj1"].id}"' in tj and "记分" not in tj
    english = menu(client, "/standings?lang=en")
    assert "My passbook" in english and "我的存折" not in english
    client.get("/standings?lang=zh_CN")
    auth.logout()

    auth.login("xf_resident")
    xf = menu(client)
    assert f'href="/households/{world.households["xf1"].id}"' in xf
    assert f'href="/households/{world.households["tj1"].id}"' not in xf
    auth.logout()

    auth.login("admin")
    admin = menu(client)
    assert "村</a>" in admin and "用户" in admin


def top_items(nav: str) -> list[str]:
    """The menu's top level: its plain links and its groups' titles."""
    depth, items = 0, []
    for m in re.finditer(r"<(/?)(a|details|summary)\b[^>]*>([^<]*)", nav):
        closing, name, text = m.groups()
        if name == "details":
            depth += -1 if closing else 1
        elif not closing and ((name == "summary" and depth == 1) or (name == "a" and depth == 0)):
            items.append(text.strip())
    return items


def test_menus_are_grouped_into_at_most_seven_top_items(world, auth, client):
    for username in ("admin", "tj_village_admin", "tj_recorder", "tj_reviewer", "tj_clerk", "tj_resident"):
        auth.login(username)
        nav = menu(client)
        items = top_items(nav)
        assert 2 <= len(items) <= 7, (username, items)
        links = re.findall(r"<a [^>]*>([^<]*)</a>", nav)
        assert len(links) == len(set(links)), username
        auth.logout()


def test_the_residents_menu_leads_to_its_redemptions(world, auth, client):
    auth.login("tj_resident")
    nav = menu(client)
    assert "兑换记录</a>" in nav
    assert top_items(nav)[:2] == ["我的存折", "我的积分卡"]
    assert client.get(re.search(r'href="([^"]+)">兑换记录', nav).group(1)).status_code == 200
