"""Who recorded and who approved, on a household's passbook: people's names, not
logins, and one name where one person did both."""

from tests.conftest import TODAY
from tests.factories import score


def rows(page: str) -> list[str]:
    return page.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]


def test_the_passbook_names_the_recorder_once_and_by_name(world, session, client, auth):
    world.users["admin"].display_name = "系统管理员"
    world.users["tj_recorder"].display_name = "李建华"
    world.users["xf_recorder"].display_name = "吴海燕"
    world.users["xf_reviewer"].display_name = "孙明亮"
    score(session, world, "tj1", "labour", day=TODAY, today=TODAY)  # 团结村: counts at once
    score(session, world, "xf1", "labour", day=TODAY, today=TODAY, approve=True)
    session.commit()
    auth.login("admin")
    tj = rows(client.get(f"/households/{world.households['tj1'].id}").text)
    assert tj[0].count("李建华") == 1 and "tj_recorder" not in tj[0]
    assert tj[-1].count("系统管理员") == 1  # the opening entry: recorded and approved by one person
    xf = rows(client.get(f"/households/{world.households['xf1'].id}").text)[0]
    assert xf.count("吴海燕") == 1 and xf.count("孙明亮") == 1  # two people, two names


def test_a_user_without_a_display_name_shows_the_login(world, session, client, auth):
    world.users["tj_recorder"].display_name = ""
    entry = score(session, world, "tj1", "labour", day=TODAY, today=TODAY)
    session.commit()
    auth.login("tj_reviewer")
    assert "tj_recorder" in rows(client.get(f"/households/{world.households['tj1'].id}").text)[0]
    reverse = client.get(f"/entries/{entry.id}/reverse").text
    assert "tj_recorder" in reverse.split("录入人")[-1].split("</tr>")[0]
