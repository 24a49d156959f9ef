"""Template gettext that looks the catalogue up once per request.

Flask-Babel's template callables call ``get_translations()`` for every string, and each
call re-resolves the locale and formats its identifier: about 20 µs, paid ~200 times
on a passbook page. Here the catalogue is remembered beside Flask-Babel's own
per-request state, keyed by the locale object, so ``flask_babel.refresh()`` (which
drops that locale) still takes effect.

``_()``, the templates' spelling, is Jinja's new-style ``gettext`` in one call: Jinja's
own alias resolves ``gettext`` and calls it through the context a second time, which
was a third of rendering a page of labels.
"""

from flask import Flask, g
from flask_babel import get_locale, get_translations
from jinja2 import pass_eval_context
from markupsafe import Markup


def translations():
    ctx = g.get("_flask_babel")
    if ctx is None:  # outside a request or before Flask-Babel's first look
        return get_translations()
    cached = getattr(ctx, "moralbank_catalogue", None)
    if cached is None or cached[0] is not getattr(ctx, "babel_locale", None):
        locale = get_locale()  # resolves and stores ctx.babel_locale
        cached = ctx.moralbank_catalogue = (locale, get_translations())
    return cached[1]


@pass_eval_context
def gettext(eval_ctx, string: str, **variables) -> str:
    """As Jinja's new-style gettext: always %-formatted, escaped where autoescaping."""
    rv = translations().ugettext(string)
    if not variables and "%" not in rv:  # most labels: nothing to format
        return Markup(rv) if eval_ctx.autoescape else rv
    if eval_ctx.autoescape:
        rv = Markup(rv)
    return rv % variables


def install(app: Flask) -> None:
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.jinja_env.globals.update(_=gettext, gettext=gettext)
