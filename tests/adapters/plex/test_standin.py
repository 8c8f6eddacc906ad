"""The Plex stand-in itself: the identity and containers the adapter is judged by, as python-plexapi
4.18 and Tautulli read them from real servers (the file each follows is named in the test). Plain
requests and a raw websocket play the client, never the adapter."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import requests
import websocket

from tests.adapters.plex.standin import OWNER_EMAIL, TOKEN, PlexStandIn


def get(plex: PlexStandIn, path: str) -> ET.Element:
    reply = requests.get(plex.url + path, headers={"X-Plex-Token": TOKEN}, timeout=5)
    assert reply.status_code == 200
    return ET.fromstring(reply.text)


def test_the_owner_is_an_email_at_the_root_and_account_1_by_name(plex) -> None:
    """plexapi/server.py PlexServer: myPlexUsername is the "Email address if signed into myPlex"
    (tests/test_server.py matches it against an e-mail pattern); SystemAccount lists /accounts by id
    and name; Tautulli pmsconnect.get_current_activity takes `User id="1"` of /status/sessions as
    the admin and looks every other user up by id."""
    root = get(plex, "/")
    assert root.get("myPlexUsername") == OWNER_EMAIL and "@" in OWNER_EMAIL
    accounts = {a.get("id"): a.get("name") for a in get(plex, "/accounts") if a.tag == "Account"}
    assert accounts["1"] == "alice"
    plex.play("7", "100")
    plex.play("8", "100", user="bob", user_id=2)
    users = {v.get("sessionKey"): v.find("User").attrib for v in get(plex, "/status/sessions")}
    assert (users["7"]["id"], users["7"]["title"]) == ("1", "alice")
    assert (users["8"]["id"], users["8"]["title"]) == ("2", accounts["2"])


def test_metadata_names_the_library_on_its_container(plex) -> None:
    """Tautulli pmsconnect.get_metadata_details reads librarySectionID and librarySectionTitle from the
    MediaContainer of /library/metadata; plexapi base.fetchItems copies the container's librarySectionID
    onto items that lack it. The stand-in keeps them off the item, the narrower form a reader must take."""
    root = get(plex, "/library/metadata/400")
    (item,) = [e for e in root if e.tag == "Video"]
    assert (root.get("librarySectionID"), root.get("librarySectionTitle")) == ("3", "Home Videos")
    assert item.get("librarySectionTitle") is None and item.get("librarySectionID") is None


def test_a_session_item_names_its_library(plex) -> None:
    """Tautulli pmsconnect.get_session_each reads the session item's own librarySectionTitle."""
    plex.play("7", "400")
    (video,) = list(get(plex, "/status/sessions"))
    assert (video.get("librarySectionID"), video.get("librarySectionTitle")) == ("3", "Home Videos")


def test_alerts_carry_every_state_tautulli_tells_apart(plex) -> None:
    """Tautulli activity_handler.ActivityHandler.process: playing, paused, buffering, stopped, and
    error (on_error: the session is kept, a later stop still ends it)."""
    ws = websocket.create_connection(plex.url.replace("http", "ws") + "/:/websockets/notifications",
                                     header=[f"X-Plex-Token: {TOKEN}"], timeout=2)
    plex.wait_connected()
    plex.play("7", "100", offset=1_000)
    plex.alert("7", "error", 60_000)
    states = []
    for _ in range(2):
        (entry,) = json.loads(ws.recv())["NotificationContainer"]["PlaySessionStateNotification"]
        states.append((entry["state"], entry["viewOffset"]))
    assert states == [("playing", 1_000), ("error", 60_000)]
    assert "7" in plex.sessions  # an error does not end the session
    ws.close()
