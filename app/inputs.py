"""Values no column can store, refused before any view runs (the API's 422 and 404, a
page's 400 and 404) instead of failing in the database with a 500: an integer beyond
PostgreSQL's ``integer`` (SQLite cannot even bind one past 64 bits), a NUL (PostgreSQL
refuses it in text), half of a UTF-16 surrogate pair (no driver encodes it as UTF-8),
and JSON nested past any body the API takes."""

import re

from flask import abort, render_template, request
from flask_babel import gettext as _

DB_INT_MAX = 2**31 - 1  # PostgreSQL ``integer``: no id, count or points value is larger
# No request body of this API nests more than three levels; Python's JSON parser (and any
# code walking what it parsed) fails with a RecursionError, a 500, near a thousand.
MAX_JSON_DEPTH = 32
# A NUL, which PostgreSQL refuses in text, or half of a UTF-16 surrogate pair: JSON's
# ``"\ud800"`` escape makes one, and no database driver can encode it as UTF-8.
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


def unstorable(value, depth: int = 0) -> bool:
    """An integer no column can hold, text no column can hold, or nesting past
    ``MAX_JSON_DEPTH`` (the depth of the value inside the body is ``depth``)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) > DB_INT_MAX
    if isinstance(value, str):
        return UNSTORABLE_TEXT.search(value) is not None
    if isinstance(value, (dict, list)):
        if depth >= MAX_JSON_DEPTH:
            return True
        if isinstance(value, dict):
            return any(unstorable(k) or unstorable(v, depth + 1) for k, v in value.items())
        return any(unstorable(v, depth + 1) for v in value)
    return False


def _too_big(text: str) -> bool:
    """``text`` read by ``int()`` as views read ids (``type=int``, ``coerce=int``; so
    ``9_999…`` and full-width digits count) is beyond 32 bits."""
    try:
        return abs(int(text)) > DB_INT_MAX
    except ValueError:  # not an integer (or past Python's 4,300 digits): the view refuses it
        return False


_DIGIT_RUN = re.compile(r"\d+")


def unstorable_field(name: str, text: str) -> bool:
    """A query argument or form field no column can store: a NUL or a lone surrogate in
    its name or value, an id or page number beyond 32 bits (``done`` is the household
    just recorded for), or a name made of an id that large (the counter's
    ``qty-<item id>``)."""
    id_like = name in ("id", "page", "per_page", "done") or name.endswith(("_id", "_ids"))
    return bool(
        UNSTORABLE_TEXT.search(name)
        or UNSTORABLE_TEXT.search(text)
        or (id_like and _too_big(text))
        or any(_too_big(run) for run in _DIGIT_RUN.findall(name))
    )


def path_id_too_big() -> bool:
    """An ``<int:…>`` of the URL beyond 32 bits: no row has that id."""
    return any(isinstance(v, int) and abs(v) > DB_INT_MAX for v in (request.view_args or {}).values())


def refuse_unstorable_page_input():
    """The pages' guard, run before every page view: a path id beyond 32 bits is 404; a
    query or form field no column can store is 400 (no one types these: they come from
    edited URLs and forged forms)."""
    if path_id_too_big():
        abort(404)
    values = list(request.args.items(multi=True))
    if request.method == "POST" and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += list(request.form.items(multi=True))
    bad = sorted({name for name, text in values if unstorable_field(name, text)})
    if bad:
        names = "、".join(UNSTORABLE_TEXT.sub("?", name) for name in bad)
        message = _("输入超出允许的范围或含有非法字符（%(fields)s），请返回检查", fields=names)
        return render_template("error.html", status=400, message=message), 400
    return None
