"""The household card: its image read back by an independent decoder (zbar), and a
token that carries no personal data."""

import re
import shutil
import subprocess

import pytest

from app.redemption import qr

ZBARIMG = shutil.which("zbarimg") or shutil.which("zbarimg", path="/usr/bin")


def zbar(png: bytes, tmp_path) -> str:
    path = tmp_path / "card.png"
    path.write_bytes(png)
    done = subprocess.run([ZBARIMG, "--raw", "-q", str(path)], capture_output=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode().rstrip("\n")


@pytest.mark.skipif(ZBARIMG is None, reason="zbarimg (Debian zbar-tools) is not installed")
def test_png_decodes_to_exactly_the_token(world, api, tmp_path):
    h = world.households["tj1"]
    clerk = api.as_("tj_clerk")
    token = clerk.get(f"/households/{h.id}/qr").get_json()["token"]
    r = clerk.get(f"/households/{h.id}/qr.png")
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert zbar(r.data, tmp_path) == token
    # a new card: the image follows the new token
    new = api.as_("tj_village_admin").post(f"/households/{h.id}/qr/revoke").get_json()["token"]
    assert new != token
    assert zbar(clerk.get(f"/households/{h.id}/qr.png").data, tmp_path) == new
    # the resident's own card
    mine = api.as_("tj_resident").get(f"/households/{h.id}/qr.png")
    assert zbar(mine.data, tmp_path) == new


@pytest.mark.skipif(ZBARIMG is None, reason="zbarimg (Debian zbar-tools) is not installed")
def test_module_png_round_trip(tmp_path):
    token = qr.make_token("test-secret", 123456, 7)
    assert zbar(qr.png(token), tmp_path) == token


def test_token_carries_no_personal_data(world, session, api):
    h = world.households["tj1"]
    h.phone = "13812345678"
    h.address = "团结村东组 3 号"
    session.commit()
    token = api.as_("tj_clerk").get(f"/households/{h.id}/qr").get_json()["token"]
    m = re.fullmatch(r"MB1\.(\d+)\.(\d+)\.([A-Za-z0-9_-]{43})", token)
    assert m, token
    assert (int(m[1]), int(m[2])) == (h.id, 1)
    for personal in (h.head_name, h.number, h.phone, h.address, "户主", "1381234"):
        assert personal not in token
    assert token.isascii() and len(token) < 64
    svg = api.as_("tj_clerk").get(f"/households/{h.id}/qr.svg").data.decode()
    for personal in (h.head_name, h.number, h.phone):
        assert personal not in svg
