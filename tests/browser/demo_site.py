"""The demo village (``flask demo``) served once per test module, for the tests that
walk the pages as each demo user at phone size. Its own app and SQLite file: the demo
takes ~12 s to load, too long to repeat for every test."""

import re
import threading
from collections import deque
from urllib.parse import urljoin, urlsplit

from werkzeug.serving import make_server

from app import create_app
from app.demo import DEMO_PASSWORD, demo_users, load_demo
from app.extensions import db

ROLES = [username for username, _role, _what in demo_users()]


class DemoSite:
    def __init__(self, tmp_path):
        self.app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "demo-site-secret",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'demo.db'}",
                "WTF_CSRF_ENABLED": True,
                "RATELIMIT_STORAGE_URI": "memory://",  # as the tests' app: the limiter is shared
            }
        )
        self.app.instance_path = str(tmp_path / "instance")
        with self.app.app_context():
            db.create_all()
            load_demo(db.session)
            db.session.commit()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def recorded_today(self, username: str) -> None:
        """Make sure ``username``'s village has an entry recorded today by the clock. The
        demo's own were recorded when it loaded, which may have been before midnight."""
        from sqlalchemy import select

        from app.auth.models import User
        from app.clock import local_today, utcnow
        from app.errors import DomainError
        from app.households.models import Household
        from app.points import services as points
        from app.points.models import Rule
        from app.scope import Actor

        tz = self.app.config["TIMEZONE"]
        with self.app.app_context():
            user = db.session.scalar(select(User).where(User.username == username))
            now = utcnow()
            day = local_today(tz, now)
            if db.session.scalars(points.entries_recorded_on(user.village_id, day, tz).limit(1)).first():
                return
            households = db.session.scalars(select(Household).where(Household.village_id == user.village_id)).all()
            rules = db.session.scalars(
                select(Rule).where(Rule.scheme_id == households[0].scheme_id, Rule.points > 0, Rule.active)
            ).all()
            for household in households:  # the first one no cap or photo stands in the way of
                for rule in rules:
                    try:
                        points.record_entry(
                            db.session,
                            Actor(user),
                            household_id=household.id,
                            rule_id=rule.id,
                            occurred_on=day,
                            today=day,
                            now=now,
                        )
                    except DomainError:
                        db.session.rollback()
                        continue
                    db.session.commit()
                    return
            raise AssertionError(f"{username} could record nothing today")

    def close(self):
        self.server.shutdown()
        self.thread.join(timeout=10)
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


def phone_page(browser):
    """A fresh 360×740 phone (its own cookies), in Chinese."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, f"{username} could not log in"


PERIOD = re.compile(r"\d+|\d{4}(-\d{2}|Q[1-4])")  # an id, or a period (2026, 2026-03, 2026Q3)


def pattern(url: str) -> str:
    """A page's kind: its path with numbers as N, and its query's names. One page of each
    kind is visited (one household, not sixty)."""
    parts = urlsplit(url)
    path = "/".join("N" if PERIOD.fullmatch(segment) else segment for segment in parts.path.split("/"))
    names = sorted({pair.split("=", 1)[0] for pair in parts.query.split("&") if pair})
    return path + "?" + "&".join(names)


WALK_LIMIT = 200  # pages per user: the walk must end before it (the admin sees ~80 kinds)
SKIP = ("/logout", "/export", ".xlsx", ".csv", "lang=", "/evidence/")


def links(page, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
    found = []
    for href in hrefs:
        if not href or href.startswith(("#", "mailto:", "tel:")):
            continue
        url = urljoin(page.url, href)
        if not url.startswith(base) or any(s in url for s in SKIP):
            continue
        found.append(url[len(base) :].split("#", 1)[0])
    return found


def crawl(page, base: str, start: list[str], *, depth: int = 3, limit: int = WALK_LIMIT) -> list[str]:
    """Pages reachable from ``start`` (the menu) within ``depth`` clicks, one of each kind
    (a period counts as an id: one notice board, not one per month)."""
    queue, seen, visited = deque((path, 0) for path in start), set(), []
    while queue and len(visited) < limit:
        path, level = queue.popleft()
        if pattern(path) in seen:
            continue
        seen.add(pattern(path))
        try:
            response = page.goto(base + path)
        except Exception as exc:  # a download (a workbook, a photo) is no page to check
            if "Download is starting" in str(exc):
                continue
            raise
        if response is None or "text/html" not in (response.headers.get("content-type") or ""):
            continue
        visited.append(path)
        if level < depth:
            queue.extend((link, level + 1) for link in links(page, base))
    return visited


def menu_paths(page, base: str) -> list[str]:
    """Every link of the menu, those in its groups included."""
    hrefs = page.eval_on_selector_all("nav.menu a[href]", "as => as.map(a => a.getAttribute('href'))")
    return [urljoin(page.url, h)[len(base) :] for h in hrefs]


def watch(page) -> list[str]:
    """Console errors (CSP refusals among them), script errors and failed requests."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{page.url}: console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"{page.url}: script error: {e}"))
    page.on("response", lambda r: problems.append(f"{page.url}: {r.status} for {r.url}") if r.status >= 400 else None)
    return problems
