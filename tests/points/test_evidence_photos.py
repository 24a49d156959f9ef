"""Evidence photos are kept re-encoded (upright, no EXIF/GPS, nothing appended) and served
as images only (``nosniff``), to the viewer's own cache, by the page and the API alike."""

import io
import os
from pathlib import Path

import pytest
from PIL import ExifTags, Image, PngImagePlugin

HTML = b"<html><script>alert(document.cookie)</script></html>"


def phone_jpeg() -> bytes:
    """40×20 pixels stored sideways (EXIF orientation 6: show rotated 90°), with GPS, and
    an HTML page appended after the image."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneCo"
    exif[ExifTags.Base.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (30.0, 15.0, 7.5),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (101.0, 3.0, 0.0),
    }
    out = io.BytesIO()
    Image.new("RGB", (40, 20), "red").save(out, "JPEG", exif=exif, comment=b"taken at home")
    return out.getvalue() + HTML


def tagged_png() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "Wang's yard, 30.2521N 101.05E")
    out = io.BytesIO()
    Image.new("RGBA", (6, 4), (0, 128, 0, 200)).save(out, "PNG", pnginfo=info)
    return out.getvalue() + HTML


def upload(api, world, data: bytes, name: str):
    r = api.as_("tj_recorder").post(
        "/evidence",
        data={"village_id": str(world.a.id), "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def assert_served_safely(response, content_type: str) -> Image.Image:
    assert response.status_code == 200
    assert response.mimetype == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    cache = response.headers["Cache-Control"]
    assert "private" in cache and "public" not in cache
    assert HTML not in response.data and b"<html" not in response.data
    return Image.open(io.BytesIO(response.data))


def test_a_phone_jpeg_is_kept_upright_without_gps_or_what_was_appended(world, app, api, auth, client):
    ev = upload(api, world, phone_jpeg(), "yard.jpg")
    stored = (Path(app.instance_path) / "evidence" / ev["id"]).read_bytes()
    assert ev["content_type"] == "image/jpeg" and ev["size"] == len(stored)
    assert HTML not in stored and b"PhoneCo" not in stored and b"taken at home" not in stored

    photo = assert_served_safely(api.as_("tj_recorder").get(f"/evidence/{ev['id']}"), "image/jpeg")
    assert photo.size == (20, 40)  # turned upright
    exif = photo.getexif()
    assert ExifTags.Base.GPSInfo not in exif and not exif.get_ifd(ExifTags.IFD.GPSInfo)
    assert ExifTags.Base.Orientation not in exif and ExifTags.Base.Make not in exif
    assert "exif" not in photo.info and "comment" not in photo.info
    assert photo.getpixel((10, 20))[0] > 200  # still red

    auth.login("tj_recorder")
    page = assert_served_safely(client.get(f"/evidence/{ev['id']}"), "image/jpeg")
    assert page.size == (20, 40)


def test_a_png_loses_its_text_chunks_and_what_was_appended(world, api):
    ev = upload(api, world, tagged_png(), "yard.png")
    photo = assert_served_safely(api.as_("tj_recorder").get(f"/evidence/{ev['id']}"), "image/png")
    assert photo.size == (6, 4) and photo.mode == "RGBA"
    assert "Comment" not in photo.info and photo.getpixel((0, 0)) == (0, 128, 0, 200)


@pytest.mark.parametrize("data", [b"<html>" + b"x" * 64, HTML + phone_jpeg()])
def test_html_is_not_a_photo(world, api, data):
    r = api.as_("tj_recorder").post(
        "/evidence",
        data={"village_id": str(world.a.id), "file": (io.BytesIO(data), "yard.jpg")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and "evidence" in r.get_json()["error"]["details"]


def test_a_photo_whose_file_is_gone_is_404_on_both_routes(world, app, api, auth, client):
    ev = upload(api, world, phone_jpeg(), "yard.jpg")
    os.remove(Path(app.instance_path) / "evidence" / ev["id"])
    r = api.as_("tj_recorder").get(f"/evidence/{ev['id']}")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    auth.login("tj_recorder")
    assert client.get(f"/evidence/{ev['id']}").status_code == 404


def test_a_photo_of_too_many_pixels_is_refused(world, api, monkeypatch):
    from app.points import photos

    monkeypatch.setattr(photos, "MAX_PIXELS", 40 * 20 - 1)
    r = api.as_("tj_recorder").post(
        "/evidence",
        data={"village_id": str(world.a.id), "file": (io.BytesIO(phone_jpeg()), "yard.jpg")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and r.get_json()["error"]["details"]["evidence"] == ["照片尺寸过大"]


def test_a_phone_jpeg_with_a_second_picture_is_kept_as_its_first_alone(world, app, api):
    """Phones store a depth or HDR gain map as a second picture in the JPEG (MPF); Pillow
    calls such a file MPO. It is a photo: kept as its first picture, without GPS."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (30.0, 15.0, 7.5)}
    out = io.BytesIO()
    gain_map = Image.new("RGB", (40, 20), "blue")
    Image.new("RGB", (40, 20), "red").save(out, "MPO", save_all=True, append_images=[gain_map], exif=exif)
    assert Image.open(io.BytesIO(out.getvalue())).format == "MPO"

    ev = upload(api, world, out.getvalue(), "IMG_0001.jpg")
    stored = (Path(app.instance_path) / "evidence" / ev["id"]).read_bytes()
    photo = assert_served_safely(api.as_("tj_recorder").get(f"/evidence/{ev['id']}"), "image/jpeg")
    assert photo.format == "JPEG" and photo.size == (20, 40)  # upright
    assert not photo.getexif().get_ifd(ExifTags.IFD.GPSInfo) and "mp" not in photo.info
    assert stored.count(b"\xff\xd8") == 1  # one picture: the gain map is not kept
    assert photo.getpixel((10, 20))[0] > 200


def test_photos_kept_as_uploaded_by_an_older_version_are_scrubbed_once(world, app, api, session, runner):
    """``flask evidence scrub``: a photo stored before uploads were re-encoded (GPS, the
    HTML after it) is re-encoded in place; a clean one is left byte for byte; a second
    run changes nothing."""
    from app.points.models import Evidence

    folder = Path(app.instance_path) / "evidence"
    clean = upload(api, world, phone_jpeg(), "yard.jpg")
    clean_bytes = (folder / clean["id"]).read_bytes()
    old = {"jpeg": phone_jpeg(), "png": tagged_png()}
    for name, data in old.items():  # as the older version kept them
        (folder / f"old{name}").write_bytes(data)
        session.add(Evidence(id=f"old{name}", village_id=world.a.id, content_type=f"image/{name}", size=len(data)))
    session.commit()
    result = runner.invoke(args=["evidence", "scrub"])
    assert result.exit_code == 0 and "2 photo(s) re-encoded, 1 already clean" in result.output, result.output
    for name in old:
        data = (folder / f"old{name}").read_bytes()
        assert b"<script" not in data and b"PhoneCo" not in data and b"yard" not in data
        with Image.open(io.BytesIO(data)) as img:
            assert not img.getexif() and "Comment" not in img.info and "comment" not in img.info
        assert session.get(Evidence, f"old{name}").size == len(data)
    with Image.open(folder / "oldjpeg") as img:
        assert img.size == (20, 40)  # turned upright
    assert (folder / clean["id"]).read_bytes() == clean_bytes
    again = runner.invoke(args=["evidence", "scrub"])
    assert again.exit_code == 0 and "0 photo(s) re-encoded, 3 already clean" in again.output, again.output
