"""Headless Chromium screenshots of the real frontend, taken inside the namespace."""

import asyncio
import base64
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

from PIL import Image

from scripts.devenv import netns

from .ha_client import CLIENT_ID, HA_INSIDE

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=15000",
    "--window-size=1400,900",
)


def ensure_chromium() -> str:
    """Debian's chromium, installed with apt on first use (idempotent)."""
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        raise RuntimeError("no chromium and no apt-get to install it")
    install = [apt_get, "install", "-y", "-q", "chromium"]
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    if subprocess.run(install, capture_output=True, env=env, check=False).returncode != 0:  # noqa: S603
        # The package lists may be missing or stale: refresh once, then install for real.
        subprocess.run([apt_get, "update", "-q"], capture_output=True, env=env, check=True)  # noqa: S603
        subprocess.run(install, capture_output=True, env=env, check=True)  # noqa: S603
    found = shutil.which("chromium")
    if found is None:
        raise RuntimeError("chromium was installed but is not on PATH")
    return found


def logged_in_url(path: str, code: str) -> str:
    """``path`` opened as the login page's redirect does: the frontend trades the code."""
    state = base64.b64encode(
        json.dumps({"hassUrl": HA_INSIDE, "clientId": CLIENT_ID}).encode()
    ).decode()
    separator = "&" if "?" in path else "?"
    return f"{HA_INSIDE}{path}{separator}auth_callback=1&code={quote(code)}&state={quote(state)}"


async def screenshot(chromium: str, namespace: str, url: str, png: Path) -> None:
    """Render ``url`` inside ``namespace`` (the browser cannot reach anything else)."""
    _clear(png)
    with tempfile.TemporaryDirectory(prefix="el-chromium-") as profile:
        process = await asyncio.create_subprocess_exec(
            *netns.exec_prefix(namespace),
            chromium,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), 120)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
    if not _exists(png):
        raise RuntimeError(f"chromium made no screenshot ({process.returncode}): {out[-2000:]!r}")


def _clear(png: Path) -> None:
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)


def _exists(png: Path) -> bool:
    return png.exists()


def picture_facts(png: Path) -> dict[str, object]:
    """What the picture shows, roughly: a real logged-in page or not.

    The logged-in frontend has a sidebar with dark menu text on the left; the login page has
    no sidebar and the "Loading…" splash is almost all background.
    """
    with Image.open(png) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        dominant = max((count for count, _colour in colours), default=rgb.width * rgb.height)
        sidebar = rgb.crop((0, 60, min(250, rgb.width), min(400, rgb.height))).convert("L")
        dark = sum(sidebar.histogram()[:100])
        share = round(dominant / (rgb.width * rgb.height), 3)
        return {
            "width": rgb.width,
            "height": rgb.height,
            "colours": len(colours),
            "dominant_colour_share": share,
            "sidebar_dark_pixels": dark,
            "bytes": png.stat().st_size,
            "logged_in_page": share < 0.9 and dark > 200,
        }
