"""Headless Chromium driven over the DevTools protocol through pipes (no debugging port).

``--remote-debugging-pipe`` makes Chromium read commands on fd 3 and write answers on fd 4
(NUL-terminated JSON), so driving it needs no socket at all: the browser still runs inside
the namespace and reaches nothing but Home Assistant there. Enough of the protocol to open a
page, click through Home Assistant's shadow DOM and take screenshots of dialogs.
"""

import asyncio
import base64
import contextlib
import itertools
import json
import os
import signal
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from scripts.devenv import netns

from .browser import FLAGS

# Finds elements through every shadow root (Home Assistant's frontend is web components).
_DEEP_FIND = """
(() => {
  const want = %s, tags = %s;
  const out = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (!tags.length || tags.includes(el.localName)) {
        const text = (el.innerText || el.textContent || '').trim();
        if (text === want || (el.label || '') === want) out.push(el);
      }
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return out;
})()
"""


class CdpError(RuntimeError):
    """The browser answered a command with an error, or went away."""


class Browser:
    """One headless Chromium with one page, commanded over its pipes."""

    def __init__(self, process: asyncio.subprocess.Process, to_browser: int, from_browser: int):
        """Use :func:`open_browser`."""
        self._process = process
        self._to = to_browser
        self._reader = asyncio.StreamReader(limit=64 << 20)
        self._from = from_browser
        self._ids = itertools.count(1)
        self._session: str | None = None

    async def _start_reading(self) -> None:
        loop = asyncio.get_running_loop()
        protocol = asyncio.StreamReaderProtocol(self._reader)
        await loop.connect_read_pipe(lambda: protocol, os.fdopen(self._from, "rb", buffering=0))

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One command (to the page once attached); its result."""
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if self._session is not None and not method.startswith("Target."):
            message["sessionId"] = self._session
        await asyncio.get_running_loop().run_in_executor(
            None, os.write, self._to, json.dumps(message).encode() + b"\0"
        )
        while True:
            raw = await asyncio.wait_for(self._reader.readuntil(b"\0"), 60)
            answer = json.loads(raw[:-1])
            if answer.get("id") == message_id:
                if "error" in answer:
                    raise CdpError(f"{method}: {answer['error']}")
                return dict(answer.get("result", {}))

    async def open_page(self, url: str, *, width: int = 1400, height: int = 900) -> None:
        """A new page at ``url``, at a fixed window size."""
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        self._session = attached["sessionId"]
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        await self.send("Page.enable")
        await self.send("Page.navigate", {"url": url})

    async def evaluate(self, expression: str) -> Any:
        """The value of ``expression`` in the page."""
        result = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}
        )
        return result.get("result", {}).get("value")

    async def wait_for_text(
        self, text: str, tags: tuple[str, ...] = (), *, within: float = 30
    ) -> None:
        """Wait until an element (of one of ``tags``, if given) shows exactly ``text``."""
        probe = f"{_DEEP_FIND % (json.dumps(text), json.dumps(list(tags)))}.length"
        async with asyncio.timeout(within):
            while not await self.evaluate(probe):  # noqa: ASYNC110  (the page is polled)
                await asyncio.sleep(0.25)

    async def click_text(
        self, text: str, tags: tuple[str, ...] = (), *, within: float = 30
    ) -> None:
        """Click the innermost element (of one of ``tags``, if given) showing ``text``."""
        await self.wait_for_text(text, tags, within=within)
        await self.evaluate(
            f"{_DEEP_FIND % (json.dumps(text), json.dumps(list(tags)))}.at(-1).click()"
        )

    async def screenshot(self, png: Path) -> None:
        """The page as it is now, as PNG."""
        shot = await self.send("Page.captureScreenshot", {"format": "png"})
        await asyncio.to_thread(_write_png, png, base64.b64decode(shot["data"]))


def _write_png(png: Path, data: bytes) -> None:
    png.parent.mkdir(parents=True, exist_ok=True)
    png.write_bytes(data)


@contextlib.asynccontextmanager
async def open_browser(chromium: str, namespace: str) -> AsyncIterator[Browser]:
    """Chromium inside ``namespace`` with its DevTools pipes; always stopped afterwards."""
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()
    with tempfile.TemporaryDirectory(prefix="el-cdp-", ignore_cleanup_errors=True) as profile:
        # Chromium expects its command pipe on fd 3 and its answer pipe on fd 4: bash moves
        # them there whatever numbers they got (dash takes one-digit fds only).
        flags = [f for f in FLAGS if not f.startswith(("--virtual-time-budget", "--window-size"))]
        redirect = f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}'
        process = await asyncio.create_subprocess_exec(
            *netns.exec_prefix(namespace), "/bin/bash", "-c", redirect, chromium, *flags,
            "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, pass_fds=(to_chrome_r, from_chrome_w),
            start_new_session=True,
        )  # fmt: skip
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        browser = Browser(process, to_chrome_w, from_chrome_r)
        try:
            await browser._start_reading()
            yield browser
        finally:
            # The whole group: Chromium's renderers and helpers too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
            os.close(to_chrome_w)
