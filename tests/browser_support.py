"""A real headless Chromium driven over the DevTools protocol (aiohttp's WebSocket client).

Each tab records what the page's WebSockets receive (the dashboard's terminal output, as
text without escape sequences), so a test can wait until a tab shows something, then take a
screenshot of what a person would see.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Runs in every page before its own scripts: keep the text of each WebSocket message.
RECORDER = r"""
(() => {
  window.__seen = "";
  const decoder = new TextDecoder();
  const keep = (text) => {
    window.__seen = (window.__seen + text.replace(/\x1b\[[0-9;:?<=>]*[ -\/]*[@-~]/g, ""))
      .slice(-4000000);
  };
  const Original = window.WebSocket;
  window.WebSocket = function (...args) {
    const sock = new Original(...args);
    sock.addEventListener("message", (event) => {
      if (typeof event.data === "string") keep(event.data);
      else if (event.data instanceof ArrayBuffer) keep(decoder.decode(event.data));
      else if (event.data instanceof Blob) event.data.arrayBuffer().then(
        (b) => keep(decoder.decode(b)));
    });
    return sock;
  };
  window.WebSocket.prototype = Original.prototype;
  Object.assign(window.WebSocket, Original);
})();
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Tab:
    """One page of the browser."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command; its result."""
        mine = next(self.ids)
        await self.ws.send_json({"id": mine, "method": method, "params": params})
        while True:
            message = await self.ws.receive(timeout=60)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"DevTools connection ended: {message.type}")
            data = json.loads(message.data)
            if data.get("id") == mine:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return dict(data.get("result", {}))

    async def open(self, url: str) -> None:
        """Load url with the recorder installed."""
        await self.call("Page.enable")
        await self.call("Page.addScriptToEvaluateOnNewDocument", source=RECORDER)
        await self.call("Page.navigate", url=url)

    async def eval(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def seen(self) -> str:
        """All text the page's WebSockets received so far."""
        return str(await self.eval("window.__seen || ''"))

    async def wait_for(self, pattern: str, timeout: float = 60) -> str:
        """Wait until the received text matches pattern (a regex); that text."""
        deadline = time.monotonic() + timeout
        while True:
            text = await self.seen()
            if re.search(pattern, text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"the tab never showed {pattern!r}; it got: {text[-800:]!r}")
            await asyncio.sleep(0.2)

    async def screenshot(self) -> bytes:
        """A PNG of the page as it is."""
        shot = await self.call("Page.captureScreenshot", format="png")
        return base64.b64decode(shot["data"])


class Browser:
    """Headless Chromium with its DevTools port."""

    def __init__(self, port: int, session: aiohttp.ClientSession) -> None:
        self.port = port
        self.session = session
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []

    async def new_tab(self, url: str) -> Tab:
        """A new page loading url."""
        async with self.session.put(f"http://127.0.0.1:{self.port}/json/new?about:blank") as r:
            target = await r.json()
        ws = await self.session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
        self.sockets.append(ws)
        tab = Tab(ws)
        tab.target = target["id"]  # type: ignore[attr-defined]
        await tab.open(url)
        return tab

    async def close_tab(self, tab: Tab) -> None:
        """Close a page (as a person closing the tab)."""
        target = tab.target  # type: ignore[attr-defined]
        async with self.session.get(f"http://127.0.0.1:{self.port}/json/close/{target}") as r:
            await r.read()


@asynccontextmanager
async def chromium(width: int = 1280, height: int = 720) -> AsyncIterator[Browser]:
    """A fresh headless Chromium (its own profile), closed afterwards."""
    assert CHROMIUM is not None
    port = _free_port()
    profile = tempfile.mkdtemp(prefix="tq-chromium-")
    proc = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            f"--remote-debugging-port={port}",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 30
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/json/version") as r:
                        await r.read()
                        break
                except aiohttp.ClientError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("chromium did not start") from None
                    await asyncio.sleep(0.1)
            browser = Browser(port, session)
            try:
                yield browser
            finally:
                for ws in browser.sockets:
                    await ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def png_colours(png: bytes) -> int:
    """How many distinct colours a PNG has (a blank or intro page has few)."""
    import struct
    import zlib

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, width, height, colour_type = 8, [], 0, 0, 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", data[:10])
            assert depth == 8
        elif kind == b"IDAT":
            chunks.append(data)
        pos += 12 + length
    channels = {2: 3, 6: 4}[colour_type]
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    colours: set[bytes] = set()
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 255
        if row % 8 == 0:
            for x in range(0, stride, channels * 4):
                colours.add(bytes(line[x : x + 3]))
        previous = line
    return len(colours)
