"""Checks on generated PDFs shared by the tests: text layer, fonts (pdffonts), rendering."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path


def pdf_pages(data: bytes) -> list[str]:
    """The text layer of each page, as a reader's copy-and-paste would see it."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return [page.get_textpage().get_text_range() for page in pdf]
    finally:
        pdf.close()


def pdf_text(data: bytes) -> str:
    """The text layer of the whole document, page after page."""
    return "\n".join(pdf_pages(data))


def pdf_fonts(data: bytes) -> list[dict[str, str]]:
    """Every font of a PDF as ``pdffonts`` lists it: name, type, emb (yes/no), sub, uni."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        out = subprocess.run(
            ["pdffonts", f.name], check=True, capture_output=True, text=True
        ).stdout
    lines = out.splitlines()
    # The dashes under the header give each column's width: names may hold spaces.
    spans, start = [], 0
    for part in lines[1].split(" "):
        spans.append((start, start + len(part)))
        start += len(part) + 1
    names = ["name", "type", "encoding", "emb", "sub", "uni", "object", "id"]
    return [
        {n: line[a:b].strip() for n, (a, b) in zip(names, spans, strict=False)}
        for line in lines[2:]
        if line.strip()
    ]


def assert_fonts_embedded(data: bytes, what: str = "PDF") -> None:
    """Every font in the PDF is embedded, and there is at least one (text was drawn)."""
    fonts = pdf_fonts(data)
    assert fonts, f"{what}: no fonts at all"
    missing = [f["name"] for f in fonts if f["emb"] != "yes"]
    assert not missing, f"{what}: fonts not embedded: {missing}"


def render_page(data: bytes, *, fontconfig_file: Path | None = None, dpi: int = 60):
    """The first page as a greyscale PIL image, drawn by poppler's pdftoppm, optionally with
    a fontconfig that knows no fonts at all, as on a print server without Chinese fonts."""
    import os

    from PIL import Image

    env = dict(os.environ)
    if fontconfig_file is not None:
        env["FONTCONFIG_FILE"] = str(fontconfig_file)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.pdf"
        src.write_bytes(data)
        subprocess.run(
            ["pdftoppm", "-png", "-gray", "-r", str(dpi), "-f", "1", "-l", "1", src, tmp + "/out"],
            check=True,
            capture_output=True,
            env=env,
        )
        (page,) = Path(tmp).glob("out*.png")
        with Image.open(page) as image:
            return image.convert("L").copy()


def no_font_config(folder: Path) -> Path:
    """A fontconfig file whose only font folder is empty: no system font can stand in."""
    empty = folder / "no-fonts"
    empty.mkdir(exist_ok=True)
    cache = folder / "fc-cache"
    cache.mkdir(exist_ok=True)
    conf = folder / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
        f"<fontconfig><dir>{empty}</dir><cachedir>{cache}</cachedir></fontconfig>\n"
    )
    return conf


def dark_pixels(image) -> int:
    """How many pixels of a greyscale image are darker than mid-grey."""
    return sum(image.point(lambda v: 255 if v < 128 else 0).histogram()[255:])
