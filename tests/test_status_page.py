"""The status page in a real headless Chromium: the secret entered once and kept, what it shows, a
retry that re-queues a parked write, and a page of another origin that cannot act."""

from __future__ import annotations

import pytest
import requests

from bridge.events import Ids, State
from bridge.http import HttpServer, Response
from tests.browser import CHROMIUM, Chromium
from tests.conftest import SECRET, eventually, watches
from tests.test_daemon import MATRIX, at
from tests.test_health import Server

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")]

T = 1_700_000_000.0
OBSCURE = {"type": "movie", "title": "Obscure Film", "year": 1971, "ids": {"tmdb": 999999001}}


@pytest.fixture
def browser():
    chromium = Chromium()
    page = chromium.page()
    yield page
    page.close()
    chromium.close()


def forged_page(target: str, write_id: int) -> HttpServer:
    """Another site's page that posts the retry form to the bridge as soon as it loads."""
    html = (f'<!doctype html><form method="post" action="{target}/retry"><input name="id" value="{write_id}">'
            '<input name="csrf" value="guessed"></form><script>document.forms[0].submit()</script>')
    server = HttpServer("127.0.0.1", 0)
    server.add_route("GET", "/", lambda _r: Response(200, html, {"Content-Type": "text/html"}), secret=False)
    server.start()
    return server


def test_the_status_page_shows_the_bridge_and_retries_a_parked_write(emulator, bridge_for, browser, tmp_path, capsys) -> None:
    bridge = bridge_for(adapters=[Server("kodi/living-room"), Server("plex/home", up=False)])
    bridge.start(reconcile=False)
    url = bridge.http.url
    bridge.sink(at(MATRIX, State.PLAYING, 0, T))
    bridge.sink(at(MATRIX, State.STOPPED, 100, T + 100))
    bridge.sink(at(MATRIX, State.STOPPED, 100, T + 200, session="2", ids=Ids(tmdb=999999001), title="Obscure Film", year=1971))
    bridge.sink(at(MATRIX, State.PLAYING, 30, T + 300, session="3", ids=Ids(tmdb=27205), title="Inception"))
    (parked,) = eventually(lambda: bridge.outbox.parked(), "Simkl to refuse the film it does not know")
    eventually(lambda: len(watches(emulator)) == 1, "The Matrix on Simkl")

    browser.goto(url + "/")
    assert "Enter the bridge's secret" in browser.text()
    browser.type("#secret", "not-the-secret")
    browser.click("#login")
    assert "That is not the bridge's secret." in browser.text()
    browser.type("#secret", SECRET)
    browser.click("#login")
    page = browser.text()
    assert "Healthy" not in page and "plex/home is not connected" in browser.text("#health")
    servers = browser.js("[...document.querySelectorAll('table')[0].rows].map(r => r.innerText)")
    assert "kodi/living-room\tconnected\t0" in servers and "plex/home\tnot connected\t0" in servers
    assert "Inception" in page and "30.0%" in page  # playing now
    assert "Obscure Film (1971) watched" in browser.text("#parked") and "not found on Simkl" in browser.text("#parked")
    assert "The Matrix watched\tdelivered" in browser.text("#recent")
    shot = browser.screenshot(tmp_path / "status-page.png")
    with capsys.disabled():
        print(f"\nstatus page screenshot: {shot} ({shot.stat().st_size} bytes)")
    assert shot.read_bytes().startswith(b"\x89PNG")

    # the secret is kept: a new visit shows the page at once
    browser.goto(url + "/")
    assert "Parked writes" in browser.text()

    # another site's page cannot press the button, even in this logged-in browser
    forged = forged_page(url, parked.id)
    try:
        browser.goto(forged.url + "/")
        eventually(lambda: browser.js("location.href") == url + "/retry" and browser.text(), "the forged form to be sent")
        assert "refused" in browser.text()
    finally:
        forged.stop()
    assert [e.id for e in bridge.outbox.parked()] == [parked.id]
    assert requests.post(url + "/retry", data={"id": parked.id, "csrf": "x"}, timeout=5).status_code == 403

    # Simkl learns of the film; the retry button sends it again
    emulator.add_catalog(OBSCURE)
    browser.goto(url + "/")
    browser.click(f"#retry-{parked.id}")
    eventually(lambda: any(w["title"] == "Obscure Film" for w in watches(emulator)), "the retried watch on Simkl")
    eventually(lambda: bridge.view.get([parked.id])[0].state == "sent", "the retried write counted sent")
    browser.goto(url + "/")
    assert "No parked write." in browser.text("#parked")
    assert "Obscure Film (1971) watched\tdelivered" in browser.text("#recent")
