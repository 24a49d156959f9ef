"""The audit log speaks Chinese: every action the app records has a Chinese name, and
the summaries written are Chinese."""

import re
from pathlib import Path

from app.audit.views import ACTION_LABELS

APP = Path(__file__).resolve().parents[2] / "app"
RECORD = re.compile(r'audit\.record\(\s*[\w.]+,\s*[\w.()]+,\s*((?:"[a-z_.]+"(?:\s*if [^,]+ else\s*)?)+)', re.S)


def recorded_actions() -> set[str]:
    actions = set()
    for path in APP.rglob("*.py"):
        for m in RECORD.finditer(path.read_text()):
            actions.update(re.findall(r'"([a-z_]+\.[a-z_]+)"', m.group(1)))
    return actions


def test_every_recorded_action_has_a_chinese_name():
    actions = recorded_actions()
    assert {"entry.approve", "objection.uphold", "objection.dismiss", "user.deactivate"} <= actions
    missing = sorted(a for a in actions if a not in ACTION_LABELS)
    assert missing == []
    assert all(re.search(r"[\u4e00-\u9fff]", str(ACTION_LABELS[a])) for a in actions)


def test_the_log_shows_chinese_names_and_summaries(world, login):
    client = login("tj_village_admin")
    assert client.post(f"/rules/standard?village_id={world.a.id}").status_code in (200, 302)
    html = client.get("/audit").get_data(as_text=True)
    assert "载入标准规则" in html and "从标准细则载入" in html
    assert ">rule.load_standard<" not in html and "rules from the standard sheet" not in html
