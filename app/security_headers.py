"""Security headers on every response, and Secure cookies in production.

The pages load their styles and scripts only from ``app/static`` (no inline ``<style>``,
``style=``, ``on*=`` or ``<script>`` code), so the policy needs neither
``'unsafe-inline'`` nor ``'unsafe-eval'``: an injected script or style does not run.
"""

import os

from flask import Flask, Response

# blob: and data: images are the record form's photo preview and Swagger UI's icons.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _development(app: Flask) -> bool:
    return bool(app.debug or app.testing or os.environ.get("FLASK_DEBUG") == "1" or os.environ.get("MORALBANK_DEV"))


def init_app(app: Flask) -> None:
    # Production is served over TLS (README: behind nginx), so the cookies never travel
    # in clear; SESSION_COOKIE_SECURE=0 for a deployment that is plain http on purpose.
    secure = os.environ.get("SESSION_COOKIE_SECURE", "1") != "0" and not _development(app)
    if secure:
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
