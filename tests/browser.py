"""A real headless Chromium (Debian's package), driven over the Chrome DevTools protocol with
websocket-client: nothing to download, no driver binary.

`Chromium.page()` gives one tab: navigate, read the DOM through JavaScript, type, click with real
mouse events at an element's centre, and take screenshots. Each run has a fresh profile, so
cookies live only as long as the test.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import requests
import websocket

from tests.conftest import eventually

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", "--window-size=1280,1600"]


class Page:
    def __init__(self, ws_url: str):
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        self.send("Page.enable")
        self.send("Runtime.enable")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        call = next(self.ids)
        self.ws.send(json.dumps({"id": call, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == call:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    def _wait_event(self, method: str, since: int) -> None:
        while not any(e.get("method") == method for e in self.events[since:]):
            self.events.append(json.loads(self.ws.recv()))

    def goto(self, url: str) -> None:
        mark = len(self.events)
        self.send("Page.navigate", url=url)
        self._wait_event("Page.loadEventFired", mark)

    def js(self, expression: str) -> Any:
        reply = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def text(self, selector: str = "body") -> str:
        return str(self.js(f"(document.querySelector({json.dumps(selector)}) || {{innerText: ''}}).innerText"))

    def click(self, selector: str, navigates: bool = True) -> None:
        """A real mouse click (press and release) at the element's centre, as a person's."""
        box = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
                      " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
                      " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        if box is None:
            raise AssertionError(f"no {selector} on the page: {self.text()[:500]}")
        mark = len(self.events)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)
        if navigates:
            self._wait_event("Page.loadEventFired", mark)

    def type(self, selector: str, text: str) -> None:
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", text=text)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        self.ws.close()


class Chromium:
    def __init__(self) -> None:
        if CHROMIUM is None:
            raise RuntimeError("chromium is not installed (scripts/test.sh installs it as root)")
        self.profile = Path(tempfile.mkdtemp(prefix="simkl-bridge-chromium-"))
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self.profile / "DevToolsActivePort"
        # Chromium writes its debugging port here once it listens.
        self.port = int(eventually(lambda: port_file.exists() and port_file.read_text().split("\n")[0].strip(),
                                   "Chromium's DevToolsActivePort", timeout=60))

    def page(self) -> Page:
        def blank_tab() -> str | None:
            tabs = requests.get(f"http://127.0.0.1:{self.port}/json/list", timeout=5).json()
            return next((t["webSocketDebuggerUrl"] for t in tabs if t.get("type") == "page"), None)

        return Page(eventually(blank_tab, "a Chromium tab"))

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
