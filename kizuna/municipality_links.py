"""A municipality's registration links (LINE and the web signup page) and their QR codes."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import qrcode
import qrcode.image.svg
from qrcode.image.pil import PilImage

BOX_SIZE = 10  # pixels per module: about 4 cm at 300 dpi for a short link, sharp in print
BORDER = 4  # the quiet zone the QR standard asks for, in modules


@dataclass(frozen=True, slots=True)
class RegistrationLink:
    kind: str  # "line" or "web"
    url: str


def line_link(bot_id: str, code: str) -> str:
    """Opens a chat with the bot with the municipality's code typed in, ready to send
    (`https://line.me/R/oaMessage/{basic id}/?{text}`); the bot remembers the code."""
    basic_id = bot_id if bot_id.startswith("@") else f"@{bot_id}"
    return f"https://line.me/R/oaMessage/{quote(basic_id, safe='')}/?{quote(code, safe='')}"


def signup_link(base_url: str, code: str) -> str:
    """The web signup page with the municipality filled in."""
    return f"{base_url.rstrip('/')}/signup?{urlencode({'municipality': code})}"


def registration_links(code: str, *, base_url: str, bot_id: str | None) -> list[RegistrationLink]:
    """The web link always; the LINE link when the bot's basic id is configured."""
    links = []
    if bot_id:
        links.append(RegistrationLink("line", line_link(bot_id, code)))
    links.append(RegistrationLink("web", signup_link(base_url, code)))
    return links


def _qr(url: str) -> qrcode.QRCode:
    # M corrects about 15% damage: enough for a printed leaflet, still a small symbol.
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=BOX_SIZE, border=BORDER
    )
    code.add_data(url)
    code.make(fit=True)
    return code


def qr_png(url: str) -> bytes:
    buffer = io.BytesIO()
    _qr(url).make_image(image_factory=PilImage).save(buffer)
    return buffer.getvalue()


def qr_svg(url: str) -> bytes:
    """One path on a white background: no seams between modules when zoomed or printed."""
    return (
        _qr(url)
        .make_image(image_factory=qrcode.image.svg.SvgPathFillImage)
        .to_string(encoding="unicode")
        .encode("utf-8")
    )


def write_qr_codes(links: list[RegistrationLink], code: str, out_dir: Path) -> list[Path]:
    """`<code>-<kind>.png` and `.svg` for each link, plus `<code>-links.txt` with the URLs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for link in links:
        for suffix, draw in (("png", qr_png), ("svg", qr_svg)):
            path = out_dir / f"{code}-{link.kind}.{suffix}"
            path.write_bytes(draw(link.url))
            written.append(path)
    listing = out_dir / f"{code}-links.txt"
    listing.write_text("".join(f"{link.kind}\t{link.url}\n" for link in links), encoding="utf-8")
    written.append(listing)
    return written
