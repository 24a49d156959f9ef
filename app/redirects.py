"""Where a ``next`` parameter may send the browser: a path of this site, nothing else."""

import unicodedata
from urllib.parse import unquote, urlsplit


def same_site_path(target) -> str | None:
    """``target`` if it can only name a path on this site, else None.

    Browsers drop tabs and newlines inside a URL and read ``\\`` as ``/``, so
    ``/\\t/evil.example`` and ``/\\evil.example`` both leave the site as ``//evil.example``
    does. Whatever such a character, or its percent-encoding (decoded by a proxy or a
    second redirect), is refused rather than cleaned: a real link never carries one.
    """
    if not isinstance(target, str) or not target.startswith("/"):
        return None
    decoded, previous = target, None
    while decoded != previous:  # %252F is %2F is /
        previous, decoded = decoded, unquote(decoded)
    for text in (target, decoded):
        if text.startswith("//") or "\\" in text:
            return None
        if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in text):
            return None
    parts = urlsplit(decoded)
    if parts.scheme or parts.netloc:
        return None
    # A dot segment is resolved by the browser: ``/.//evil.example`` becomes the path
    # ``//evil.example``, which any later redirect built from it would send off site.
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        return None
    return target
