"""Evidence photos: re-encoded before they are kept, served so no browser reads them as
anything but an image.

A phone's JPEG carries the household's GPS position in its EXIF, and a "JPEG" may carry
an HTML page after its image data. Only the decoded pixels are kept: the photo is
turned upright (phones store the rotation in EXIF), then saved afresh with no EXIF, XMP,
comments or text chunks, and nothing after the image. The colour profile is kept: it
says nothing about anyone, and without it a phone's wide-gamut photo looks washed out.
"""

from io import BytesIO
from pathlib import Path

from flask import abort, send_file
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import ValidationFailed

JPEG_QUALITY = 85  # what phones themselves use; a re-encode at 95 doubles the file
# Decoding takes 3-4 bytes a pixel: a 48-megapixel phone photo passes, a crafted one
# that would need gigabytes does not (Pillow itself only refuses past 179 megapixels).
MAX_PIXELS = 50_000_000


def _refuse(message) -> ValidationFailed:
    return ValidationFailed({"evidence": [str(message)]})


def clean_photo(data: bytes, max_bytes: int) -> tuple[bytes, str]:
    """The photo re-encoded without metadata, and its content type; a JPEG or PNG only
    (checked by decoding it, not by its name)."""
    if not data:
        raise _refuse(_l("请选择照片"))
    if len(data) > max_bytes:
        raise _refuse(_l("照片不能超过 %(mb)s MB", mb=max_bytes // (1024 * 1024)))
    try:
        with Image.open(BytesIO(data)) as img:
            # Pillow names a JPEG carrying more pictures (a phone's depth map or HDR gain
            # map, in an MPF segment) MPO: its first picture is the photo.
            fmt = "JPEG" if img.format == "MPO" else img.format
            if fmt not in ("JPEG", "PNG"):
                raise _refuse(_l("只接受 JPEG 或 PNG 照片"))
            if img.width * img.height > MAX_PIXELS:
                raise _refuse(_l("照片尺寸过大"))
            icc = img.info.get("icc_profile")
            img.load()
            upright = ImageOps.exif_transpose(img)
    except Image.DecompressionBombError as exc:  # a few KB that claim gigapixels
        raise _refuse(_l("照片尺寸过大")) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _refuse(_l("只接受 JPEG 或 PNG 照片")) from exc
    # Pillow writes back what it read (a JPEG's comment, EXIF): keep only what drawing needs.
    upright.info = {k: v for k, v in upright.info.items() if k == "transparency"}
    out = BytesIO()
    extra = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        if upright.mode not in ("RGB", "L"):
            upright = upright.convert("RGB")
        upright.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, **extra)
        return out.getvalue(), "image/jpeg"
    if upright.mode not in ("RGB", "RGBA", "L", "LA", "P", "1", "I;16"):
        upright = upright.convert("RGBA")
    upright.save(out, "PNG", optimize=True, **extra)
    return out.getvalue(), "image/png"


# What a photo written by clean_photo shows Pillow: pixels' density and colour, nothing
# about where or by whom.
_CLEAN_INFO = {"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi", "icc_profile", "transparency"}
_ENDS = {"JPEG": b"\xff\xd9", "PNG": b"IEND\xaeB`\x82"}


def is_clean(data: bytes) -> bool:
    """Whether a stored photo is already as ``clean_photo`` writes one: a JPEG or PNG with
    no metadata and nothing after its image. Re-encoding such a JPEG would only lose
    quality."""
    try:
        with Image.open(BytesIO(data)) as img:
            fmt, info = img.format, set(img.info)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return False
    return fmt in _ENDS and data.endswith(_ENDS[fmt]) and info <= _CLEAN_INFO


def photo_response(folder: Path, evidence_id: str, content_type: str):
    """The stored photo, for the page and the API alike: a missing file is a 404; never
    sniffed as another type; kept in the viewer's own cache only (it is a household's)."""
    path = folder / evidence_id
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=content_type, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.public = False
    response.cache_control.private = True
    return response
