"""Registration links for a municipality and their QR codes: PNG and SVG that really decode."""

from __future__ import annotations

import io
import shutil
import subprocess
import xml.etree.ElementTree as ET
from urllib.parse import unquote, urlsplit

import pytest
from PIL import Image

from kizuna.municipality_links import (
    line_link,
    qr_png,
    qr_svg,
    registration_links,
    signup_link,
    write_qr_codes,
)


@pytest.mark.parametrize("bot_id", ["@kizuna", "kizuna"])
def test_line_link_prefills_the_code_to_the_bot(bot_id):
    url = line_link(bot_id, "131016")
    assert url == "https://line.me/R/oaMessage/%40kizuna/?131016"
    parts = urlsplit(url)
    assert unquote(parts.path.split("/")[3]) == "@kizuna" and parts.query == "131016"


def test_signup_link():
    assert signup_link("https://kizuna.example.org/", "131016") == (
        "https://kizuna.example.org/signup?municipality=131016"
    )


def test_no_line_link_without_the_bot_id():
    links = registration_links("131016", base_url="https://k.example", bot_id=None)
    assert [link.kind for link in links] == ["web"]
    links = registration_links("131016", base_url="https://k.example", bot_id="@kizuna")
    assert [link.kind for link in links] == ["line", "web"]


def test_png_is_a_real_image_of_printable_size():
    data = qr_png("https://kizuna.example.org/signup?municipality=131016")
    image = Image.open(io.BytesIO(data))
    image.verify()
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    width, height = image.size
    assert width == height >= 250  # 25+ modules × 10 px, quiet zone included
    assert len(image.convert("L").getcolors()) == 2  # black modules on white


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="needs zbarimg (Debian: zbar-tools)")
@pytest.mark.parametrize(
    "url",
    [
        "https://line.me/R/oaMessage/%40kizuna/?131016",
        "https://kizuna.example.org/signup?municipality=131016",
    ],
)
def test_a_scanner_reads_the_link_back(tmp_path, url):
    path = tmp_path / "qr.png"
    path.write_bytes(qr_png(url))
    read = subprocess.run(["zbarimg", "--quiet", "--raw", str(path)], capture_output=True,
                          text=True, check=True, timeout=30)  # fmt: skip
    assert read.stdout.strip() == url


def test_png_modules_carry_the_data():
    # Two different links give two different pictures of the same size class.
    one = Image.open(io.BytesIO(qr_png("https://k.example/signup?municipality=131016")))
    two = Image.open(io.BytesIO(qr_png("https://k.example/signup?municipality=011002")))
    assert one.tobytes() != two.tobytes()


def test_svg_parses_as_xml_with_one_path_on_white():
    root = ET.fromstring(qr_svg("https://line.me/R/oaMessage/%40kizuna/?131016"))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    paths = root.findall("{http://www.w3.org/2000/svg}path")
    assert len(paths) == 1 and len(paths[0].get("d")) > 500
    assert root.find("{http://www.w3.org/2000/svg}rect").get("fill") == "white"


def test_write_qr_codes(tmp_path):
    links = registration_links("131016", base_url="https://k.example", bot_id="@kizuna")
    written = write_qr_codes(links, "131016", tmp_path / "qr")
    assert sorted(p.name for p in written) == [
        "131016-line.png", "131016-line.svg", "131016-links.txt", "131016-web.png",
        "131016-web.svg",
    ]  # fmt: skip
    listing = (tmp_path / "qr" / "131016-links.txt").read_text(encoding="utf-8")
    assert "line\thttps://line.me/R/oaMessage/%40kizuna/?131016\n" in listing
