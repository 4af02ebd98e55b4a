"""Draw the integration's brand images (icon and logo) with Pillow: a meter dial and a bolt.

Run once when the design changes: ``.venv/bin/python scripts/make_brand.py``.
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BRAND = Path(__file__).resolve().parent.parent / "custom_components" / "energy_local" / "brand"
GREEN = (22, 163, 74, 255)
DARK = (15, 23, 42, 255)
WHITE = (255, 255, 255, 255)
AMBER = (250, 204, 21, 255)


def icon(size: int) -> Image.Image:
    """A rounded green tile with a white dial and an amber lightning bolt."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    s = size / 256
    draw.rounded_rectangle((8 * s, 8 * s, 248 * s, 248 * s), radius=48 * s, fill=GREEN)
    draw.ellipse((40 * s, 40 * s, 216 * s, 216 * s), outline=WHITE, width=round(14 * s))
    bolt = [(140, 52), (84, 136), (124, 136), (108, 204), (172, 112), (132, 112), (148, 52)]
    draw.polygon([(x * s, y * s) for x, y in bolt], fill=AMBER, outline=DARK)
    return img


def logo(height: int, *, dark: bool = False) -> Image.Image:
    """The icon followed by the name."""
    mark = icon(height)
    font = ImageFont.load_default(size=round(height * 0.42))
    text = "Energy Local"
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
    width = int(height + round(height * 0.15) + (right - left) + round(height * 0.1))
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    img.paste(mark, (0, 0), mark)
    draw = ImageDraw.Draw(img)
    y = (height - (bottom - top)) / 2 - top
    draw.text((height + round(height * 0.15), y), text, font=font, fill=WHITE if dark else DARK)
    return img


def main() -> None:
    """Write icon.png, icon@2x.png, logo.png, logo@2x.png and dark_logo variants."""
    BRAND.mkdir(parents=True, exist_ok=True)
    icon(256).save(BRAND / "icon.png")
    icon(512).save(BRAND / "icon@2x.png")
    logo(128).save(BRAND / "logo.png")
    logo(256).save(BRAND / "logo@2x.png")
    logo(128, dark=True).save(BRAND / "dark_logo.png")
    logo(256, dark=True).save(BRAND / "dark_logo@2x.png")


if __name__ == "__main__":
    main()
