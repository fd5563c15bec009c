"""Clips for Chromium's fake camera: real labels, printed by the app and rendered, played one
after another as a Y4M file (``--use-file-for-fake-video-capture``).

A Y4M file needs no ffmpeg: a header line, then per frame ``FRAME`` and the three planes of a
4:2:0 picture. The labels are black on white, so the two colour planes are flat grey (128).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pypdfium2
from PIL import Image

from labels import services as lab
from readiness.permissions import SYSTEM

WIDTH, HEIGHT = 640, 480
FPS = 10
GREY = 128  # between labels: an empty view, so the page sees each label as a new scan
TABLE = 200  # what the label lies on


def print_labels(session, unit, base_url: str, layout: str = "thermal-50x30"):
    """The unit's labels as the app prints them: (targets, PDF), one label per page."""
    targets = lab.targets_for_unit(session, unit, actor=SYSTEM)
    return targets, lab.sheet_pdf(session, targets, layout, skip=0, base_url=base_url)


def label_frames(pdf: bytes, width: int = 560) -> list[Image.Image]:
    """Each page of the PDF rendered to about ``width`` pixels wide and laid on a camera frame."""
    doc = pypdfium2.PdfDocument(pdf)
    try:
        frames = []
        for page in doc:
            label = page.render(scale=width / page.get_width()).to_pil().convert("L")
            if label.height > HEIGHT - 20:
                label = label.resize(
                    (label.width * (HEIGHT - 20) // label.height, HEIGHT - 20), Image.LANCZOS
                )
            frame = Image.new("L", (WIDTH, HEIGHT), TABLE)
            frame.paste(label, ((WIDTH - label.width) // 2, (HEIGHT - label.height) // 2))
            frames.append(frame)
        return frames
    finally:
        doc.close()


def blank_frame(level: int = GREY) -> Image.Image:
    return Image.new("L", (WIDTH, HEIGHT), level)


def sequence(
    pictures: Sequence[Image.Image], seconds_each: float = 2.0, gap_seconds: float = 0.6
) -> list[Image.Image]:
    """The frames of a clip: each picture held ``seconds_each``, grey ``gap_seconds`` after it."""
    held, gap = round(seconds_each * FPS), round(gap_seconds * FPS)
    out: list[Image.Image] = []
    for picture in pictures:
        out += [picture] * held + [blank_frame()] * gap
    return out


def write_y4m(path: Path, frames: Iterable[Image.Image], fps: int = FPS) -> Path:
    """Write greyscale frames as a 4:2:0 Y4M clip that Chromium's fake camera plays in a loop."""
    chroma = bytes([128]) * (WIDTH // 2 * HEIGHT // 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            assert frame.size == (WIDTH, HEIGHT) and frame.mode == "L"
            out.write(b"FRAME\n")
            out.write(frame.tobytes())
            out.write(chroma)
            out.write(chroma)
    return path


def read_y4m(path: Path) -> list[Image.Image]:
    """The luma of every frame of a clip written by ``write_y4m`` (to check what it shows)."""
    data = path.read_bytes()
    header, _, body = data.partition(b"\n")
    fields = {f[:1]: f[1:] for f in header.split()[1:]}
    width, height = int(fields[b"W"]), int(fields[b"H"])
    luma, step = width * height, width * height * 3 // 2 + len(b"FRAME\n")
    return [
        Image.frombytes("L", (width, height), body[i + 6 : i + 6 + luma])
        for i in range(0, len(body), step)
    ]


def label_clip(path: Path, pdf: bytes, *, seconds_each: float = 2.0, gap_seconds: float = 0.6):
    """A clip showing the labels of a printed PDF one by one, grey between them."""
    return write_y4m(path, sequence(label_frames(pdf), seconds_each, gap_seconds))
