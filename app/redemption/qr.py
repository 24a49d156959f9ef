"""Household QR cards: a short signed token and its images.

The token is ``MB1.<household id>.<card version>.<HMAC-SHA256 signature>`` — no name,
no phone. Revoking a card bumps the version, so the old card's token still verifies
but is refused as ``qr_revoked``; a token whose signature fails is ``invalid_qr``.
"""

import hashlib
import io

import qrcode
import qrcode.image.svg
from itsdangerous import BadSignature, Signer

PREFIX = "MB1"


def _signer(secret: str) -> Signer:
    return Signer(secret, salt="household-qr", digest_method=hashlib.sha256, sep=".")


def make_token(secret: str, household_id: int, version: int) -> str:
    return _signer(secret).sign(f"{PREFIX}.{household_id}.{version}".encode()).decode()


def read_token(secret: str, token: str) -> tuple[int, int] | None:
    """(household id, version) of a genuine token, else None."""
    if not isinstance(token, str) or len(token) > 200:
        return None
    try:
        value = _signer(secret).unsign(token.strip().encode()).decode()
    except (BadSignature, UnicodeError, ValueError):
        return None
    prefix, _, rest = value.partition(".")
    hid, _, version = rest.partition(".")
    if prefix != PREFIX or not hid.isdigit() or not version.isdigit():
        return None
    return int(hid), int(version)


def _qr(token: str) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(token)
    qr.make(fit=True)
    return qr


def png(token: str) -> bytes:
    out = io.BytesIO()
    _qr(token).make_image().save(out, format="PNG")
    return out.getvalue()


def svg(token: str) -> bytes:
    out = io.BytesIO()
    _qr(token).make_image(image_factory=qrcode.image.svg.SvgPathImage).save(out)
    return out.getvalue()
