"""Each endpoint's social image (social/<id>.png), drawn at build time: what a link to its page shows where it is
shared. Its status, its uptime over 30 days and its rank by that uptime among the watched endpoints
(metrics.compare.uptime_ranks)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from render.charts import STATUS_COLORS

SIZE = (600, 315)  # the 1.91:1 of Open Graph's large image, at half the usual size: small to fetch
INK, MUTED, PAPER, RULE = "#1d232b", "#57606a", "#ffffff", "#dde2e8"


def shown(uptime: float | None) -> str:
    """The uptime as the card says it."""
    return "—" if uptime is None else f"{uptime * 100:.1f} %"


def card(name: str, status: str, uptime: float | None, rank: tuple[int, int] | None) -> bytes:
    """The image as PNG bytes (the same bytes for the same figures: no time or random draw in it)."""
    image = Image.new("RGB", SIZE, PAPER)
    draw = ImageDraw.Draw(image)
    small, large, huge = (ImageFont.load_default(size=n) for n in (20, 34, 56))
    draw.text((32, 26), "Open311 Status", font=small, fill=MUTED)
    draw.text((32, 58), _fit(draw, name, large, SIZE[0] - 64), font=large, fill=INK)
    pill = draw.textbbox((0, 0), status, font=small)
    width = pill[2] - pill[0] + 28
    draw.rounded_rectangle((32, 116, 32 + width, 150), radius=17, fill=STATUS_COLORS.get(status, STATUS_COLORS["unknown"]))
    draw.text((32 + 14, 120), status, font=small, fill=PAPER)
    draw.line((32, 176, SIZE[0] - 32, 176), fill=RULE, width=2)
    draw.text((32, 192), shown(uptime), font=huge, fill=INK)
    draw.text((32, 258), "uptime over 30 days", font=small, fill=MUTED)
    if rank is not None:
        place = f"#{rank[0]} of {rank[1]}"
        box = draw.textbbox((0, 0), place, font=huge)
        draw.text((SIZE[0] - 32 - (box[2] - box[0]), 192), place, font=huge, fill=INK)
        label = "by uptime"
        box = draw.textbbox((0, 0), label, font=small)
        draw.text((SIZE[0] - 32 - (box[2] - box[0]), 258), label, font=small, fill=MUTED)
    out = io.BytesIO()
    image.save(out, format="PNG")  # optimize=True saves 3 % for six times the time: a build draws a card per endpoint
    return out.getvalue()


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> str:
    """The text, cut with an ellipsis to fit the width (a city's name may be long)."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


class Cards:
    """The cards drawn by earlier builds, kept in a directory and found by what they show (and this module's code):
    an incremental build draws only those whose figures changed. Without a directory, every card is drawn."""

    def __init__(self, directory: Path | None):
        self.directory, self.used = directory, set[str]()
        self.code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]

    def card(self, name: str, status: str, uptime: float | None, rank: tuple[int, int] | None) -> bytes:
        """card()'s bytes, from the directory when it has them."""
        if self.directory is None:
            return card(name, status, uptime, rank)
        key = hashlib.sha256(json.dumps([self.code, name, status, shown(uptime), rank]).encode()).hexdigest()[:24]  # as shown
        path = self.directory / f"{key}.png"
        self.used.add(path.name)
        try:
            return path.read_bytes()
        except OSError:
            png = card(name, status, uptime, rank)
            self.directory.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png)
            return png

    def prune(self) -> None:
        """Forget the cards this build did not show."""
        if self.directory is not None and self.directory.exists():
            for path in self.directory.glob("*.png"):
                if path.name not in self.used:
                    path.unlink()
