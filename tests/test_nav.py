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
