"""The top menu, rendered once per kind of user and language, not on every page.

It holds some 25 links and labels; built on each request it cost about a tenth of a
passbook page. What it shows depends only on the key below (roles, whether the user
has a village, a region or a household, which household, whether it has a village
scheme to score, the language and the URL prefix), so
the rendered HTML is kept per key in this process.
"""

from flask import Flask, current_app, render_template, request
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

from app.web import scores_villages

_MAX = 1024
_rendered: dict[tuple, Markup] = {}


def menu() -> Markup:
    user = current_user
    scores = scores_villages(user)  # data, not roles: asked on each request
    key = (
        scores,
        user.roles_text,
        user.village_id is not None,
        user.region_id is not None,
        user.household_id,
        str(get_locale()),
        request.script_root,
    )
    html = _rendered.get(key)
    if html is None:
        if len(_rendered) >= _MAX:
            _rendered.clear()
        html = _rendered[key] = Markup(render_template("_nav.html", scores_villages=scores))
    return html


def favicon():
    """Pages name the icon with a <link>; this answers the browsers that ask for
    /favicon.ico anyway (the API's JSON, the docs), so no request ends in a 404."""
    return current_app.send_static_file("favicon.svg")


def init_app(app: Flask) -> None:
    app.add_template_global(menu, "nav_menu")
    app.add_url_rule("/favicon.ico", "favicon", favicon)
