"""Plex GUIDs, metadata and webhook payloads -> PlayEvent, as a user would see them mapped.

Payloads follow Plex's documented shapes (webhook `payload` part, /library/metadata responses in
JSON and XML); each GUID form appears with one realistic example.
"""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bridge.adapters.plex.map import (
    NotMatched,
    NotVideo,
    event_from_metadata,
    in_excluded_library,
    map_metadata,
    metadata_from_xml,
    parse_metadata_response,
    webhook_event,
)
from bridge.cli import main
from bridge.events import EventError, Ids, Kind, Numbering, State
from bridge.simkl.bodies import history_body, scrobble_body

MATRIX = {
    "ratingKey": "26697", "key": "/library/metadata/26697", "guid": "plex://movie/5d7768313c3c2a001fbcd1f0",
    "type": "movie", "title": "The Matrix", "librarySectionTitle": "Movies", "librarySectionID": 1,
    "librarySectionType": "movie", "year": 1999, "duration": 8160000, "viewOffset": 4080000,
    "Guid": [{"id": "imdb://tt0133093"}, {"id": "tmdb://603"}, {"id": "tvdb://169"}],
}

BREAKING_BAD = {
    "ratingKey": "9700", "key": "/library/metadata/9700/children", "guid": "plex://show/5d9c086c46115600200aa2fe",
    "type": "show", "title": "Breaking Bad", "year": 2008, "librarySectionID": 2, "librarySectionTitle": "TV Shows",
    "Guid": [{"id": "imdb://tt0903747"}, {"id": "tmdb://1396"}, {"id": "tvdb://81189"}],
}

# S01E02 on the new agent: its Guid list names the episode, not the show.
CATS_IN_THE_BAG = {
    "ratingKey": "9725", "key": "/library/metadata/9725", "parentRatingKey": "9720", "grandparentRatingKey": "9700",
    "guid": "plex://episode/5d9c0e13cb3ffa001f1c91a3", "parentGuid": "plex://season/602e67e61d3358002c411c45",
    "grandparentGuid": "plex://show/5d9c086c46115600200aa2fe", "type": "episode", "title": "Cat's in the Bag...",
    "grandparentTitle": "Breaking Bad", "parentTitle": "Season 1", "librarySectionTitle": "TV Shows",
    "librarySectionID": 2, "index": 2, "parentIndex": 1, "year": 2008, "duration": 2878000, "viewOffset": 1200000,
    "Guid": [{"id": "imdb://tt1054724"}, {"id": "tmdb://62086"}, {"id": "tvdb://349233"}],
}

CATS_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<MediaContainer size="1" allowSync="1" identifier="com.plexapp.plugins.library" librarySectionID="2"
  librarySectionTitle="TV Shows" mediaTagPrefix="/system/bundle/media/flags/" mediaTagVersion="1700000000">
  <Video ratingKey="9725" key="/library/metadata/9725" parentRatingKey="9720" grandparentRatingKey="9700"
    guid="plex://episode/5d9c0e13cb3ffa001f1c91a3" parentGuid="plex://season/602e67e61d3358002c411c45"
    grandparentGuid="plex://show/5d9c086c46115600200aa2fe" type="episode" title="Cat's in the Bag..."
    grandparentTitle="Breaking Bad" parentTitle="Season 1" librarySectionTitle="TV Shows" librarySectionID="2"
    index="2" parentIndex="1" year="2008" duration="2878000" viewOffset="1200000" addedAt="1600000000">
    <Media id="11" duration="2878000" videoResolution="1080" container="mkv">
      <Part id="12" key="/library/parts/12/1600000000/file.mkv" duration="2878000" file="/tv/Breaking Bad/S01E02.mkv"/>
    </Media>
    <Guid id="imdb://tt1054724"/>
    <Guid id="tmdb://62086"/>
    <Guid id="tvdb://349233"/>
    <Director id="5" tag="Adam Bernstein"/>
  </Video>
</MediaContainer>"""


def legacy_episode(guid: str, season: int = 1, index: int = 2, **extra) -> dict:
    """An episode matched by a legacy agent: no Guid list, the show's id inside `guid`."""
    meta = {k: v for k, v in CATS_IN_THE_BAG.items() if k != "Guid"}
    show_guid = guid.split("://")[0] + "://" + guid.split("://")[1].split("/")[0].split("?")[0] + "?lang=en"
    return dict(meta, guid=guid, grandparentGuid=show_guid, parentIndex=season, index=index, **extra)


def webhook(event: str = "media.scrobble", meta: dict | None = None, **extra) -> dict:
    return {"event": event, "user": True, "owner": True,
            "Account": {"id": 1, "thumb": "https://plex.tv/users/abc/avatar?c=1", "title": "alice"},
            "Server": {"title": "Basement", "uuid": "0123456789abcdef0123456789abcdef01234567"},
            "Player": {"local": True, "publicAddress": "203.0.113.7", "title": "SHIELD Android TV", "uuid": "shield-1"},
            "Metadata": copy.deepcopy(meta if meta is not None else MATRIX), **extra}


def mapped(meta: dict, state: State = State.STOPPED, position: float = 0.0):
    return event_from_metadata(meta, server="home", user="alice", session="s", state=state, position=position, at=1.0)


# --- movies and episodes ---------------------------------------------------------------------------


def test_new_agent_movie_uses_its_guid_list_and_converts_milliseconds() -> None:
    event = mapped(MATRIX, position=4080.0)
    assert event.kind is Kind.MOVIE
    assert event.ids == Ids(imdb="tt0133093", tmdb=603, tvdb=169)
    assert (event.title, event.year, event.duration, event.progress) == ("The Matrix", 1999, 8160.0, 50.0)
    assert event.matched_by == "plex guid imdb://tt0133093, tmdb://603, tvdb://169"
    assert history_body(event) == {"movies": [{"title": "The Matrix", "year": 1999,
                                               "ids": {"imdb": "tt0133093", "tmdb": 603, "tvdb": 169}}]}


def test_legacy_movie_agent_id_comes_from_the_guid() -> None:
    meta = {k: v for k, v in MATRIX.items() if k != "Guid"}
    event = mapped(dict(meta, guid="com.plexapp.agents.themoviedb://603?lang=en"))
    assert event.ids == Ids(tmdb=603)
    assert event.matched_by == "plex guid com.plexapp.agents.themoviedb://603?lang=en"


def test_new_agent_episode_takes_the_shows_ids_and_keeps_its_own() -> None:
    event = mapped(dict(CATS_IN_THE_BAG, grandparent=BREAKING_BAD))
    assert event.ids == Ids(imdb="tt0903747", tmdb=1396, tvdb=81189)
    assert event.episode_ids == Ids(imdb="tt1054724", tmdb=62086, tvdb=349233)
    assert (event.season, event.episodes, event.title, event.year) == (1, (2,), "Breaking Bad", 2008)
    assert "tvdb://81189" in event.matched_by and "episode plex guid" in event.matched_by
    (show,) = history_body(event)["shows"]
    assert show["ids"]["tvdb"] == 81189
    assert show["seasons"] == [{"number": 1, "episodes": [{"number": 2, "ids": event.episode_ids.as_dict()}]}]


def test_episode_without_its_show_is_addressed_by_its_own_ids() -> None:
    event = mapped(CATS_IN_THE_BAG)
    assert not event.ids and event.episode_ids.tvdb == 349233
    assert history_body(event) == {"episodes": [{"ids": {"imdb": "tt1054724", "tmdb": 62086, "tvdb": 349233}}]}


def test_legacy_tvdb_episode_guid_locates_the_episode_by_itself() -> None:
    guid = "com.plexapp.agents.thetvdb://81189/3/7?lang=en"
    event = mapped(legacy_episode(guid, season=9, index=9))  # the GUID's numbers win
    assert (event.ids, event.season, event.episodes, event.numbering) == (Ids(tvdb=81189), 3, (7,), Numbering.TV)
    assert event.matched_by == f"plex guid {guid}"


def test_hama_anidb_episode_is_sent_with_anidb_numbering() -> None:
    event = mapped(legacy_episode("com.plexapp.agents.hama://anidb-8692/1/14?lang=en", grandparentTitle="Sword Art Online"))
    assert event.numbering is Numbering.ANIDB
    assert history_body(event) == {"anime": [{"title": "Sword Art Online", "ids": {"anidb": 8692},
                                              "seasons": [{"number": 1, "episodes": [{"number": 14}]}]}]}
    assert scrobble_body(event, 40)["episode"] == {"season": 1, "number": 14}


def test_hama_anidb_specials_are_sent_but_its_coded_extras_are_not() -> None:
    special = mapped(legacy_episode("com.plexapp.agents.hama://anidb-11370/0/3?lang=en"))
    assert (special.season, special.episodes, special.numbering) == (0, (3,), Numbering.ANIDB)
    with pytest.raises(NotMatched, match="special 0/401 is HAMA's code"):
        mapped(legacy_episode("com.plexapp.agents.hama://anidb-11370/0/401?lang=en"))


def test_hama_show_guid_without_numbers_takes_them_from_the_episode() -> None:
    # A websocket-fed item whose own guid came back empty: the show's HAMA guid plus the indices.
    meta = dict(legacy_episode("com.plexapp.agents.hama://anidb-8692/1/1?lang=en"), guid="",
                grandparentGuid="com.plexapp.agents.hama://anidb-8692?lang=en", parentIndex=0, index=3)
    event = mapped(meta)
    assert (event.ids, event.season, event.episodes, event.numbering) == (Ids(anidb=8692), 0, (3,), Numbering.ANIDB)


def test_hama_tvdb_modes_are_tvdb_seasons() -> None:
    event = mapped(legacy_episode("com.plexapp.agents.hama://tvdb2-259640/2/3?lang=en"))
    assert history_body(event)["shows"][0]["seasons"] == [{"number": 2, "episodes": [{"number": 3}]}]


def test_hama_anidb2_places_the_cour_in_tvdb_seasons_for_simkl_to_cross_map() -> None:
    event = mapped(legacy_episode("com.plexapp.agents.hama://anidb2-10376/2/5?lang=en"))
    (show,) = history_body(event)["shows"]
    assert show["ids"] == {"anidb": 10376} and show["use_tvdb_anime_seasons"] is True
    assert show["seasons"] == [{"number": 2, "episodes": [{"number": 5}]}]


def test_xbmcnfotv_episode_reads_the_nfo_id_as_tvdb() -> None:
    event = mapped(legacy_episode("com.plexapp.agents.xbmcnfotv://73244/2/3?lang=xn"))
    assert (event.ids, event.season, event.episodes) == (Ids(tvdb=73244), 2, (3,))


@pytest.mark.parametrize(
    ("meta", "named"),
    [
        (dict({k: v for k, v in MATRIX.items() if k != "Guid"}, guid="local://12345"), "local://12345"),
        (dict({k: v for k, v in MATRIX.items() if k != "Guid"}, guid="com.plexapp.agents.none://569747/2026/41103?lang=xn"),
         "com.plexapp.agents.none://569747"),
        (dict(MATRIX, Guid=[]), "plex://movie/5d7768313c3c2a001fbcd1f0"),
        (dict(CATS_IN_THE_BAG, Guid=[]), "plex://episode/5d9c0e13cb3ffa001f1c91a3"),
    ],
)
def test_unmatched_items_are_refused_in_one_line_naming_the_guid(meta, named) -> None:
    with pytest.raises(NotMatched) as err:
        mapped(meta)
    assert named in str(err.value) and "\n" not in str(err.value)


def test_music_and_clips_are_not_videos() -> None:
    track = {"ratingKey": "501", "type": "track", "title": "Airbag",
             "guid": "com.plexapp.agents.plexmusic://gracenote/track/123?lang=en"}
    with pytest.raises(NotVideo, match="type 'track' is not a movie or episode"):
        mapped(track)
    assert webhook_event(webhook("media.play", track), server="home", at=1.0) is None
    assert webhook_event(webhook("media.play", dict(MATRIX, type="clip")), server="home", at=1.0) is None


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"Guid": 5, "guid": 7}, NotMatched, "guid (none) and its show carry no usable id"),
        ({"Guid": [{"id": 603}, "tmdb://603", {"id": "tmdb://x"}]}, NotMatched, "carry no usable id"),
        ({"grandparent": "Breaking Bad", "Guid": []}, NotMatched, "carry no usable id"),
        ({"parentIndex": "1"}, EventError, "parentIndex/index '1'/2 are not season/episode numbers"),
        ({"index": True}, EventError, "parentIndex/index 1/True"),
        ({"duration": -5}, EventError, "Metadata.duration: expected milliseconds, got -5"),
    ],
)
def test_metadata_fields_of_the_wrong_type_are_refused_in_one_line(changes, error, message) -> None:
    with pytest.raises(error) as err:
        mapped(dict(CATS_IN_THE_BAG, **changes))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_wrongly_typed_title_is_dropped_not_sent() -> None:
    event = mapped(dict(MATRIX, title=["The Matrix"], year="1999"))
    assert (event.title, event.year, event.ids.tmdb) == ("", None, 603)


def test_episode_without_numbers_is_a_clear_error() -> None:
    meta = dict(CATS_IN_THE_BAG, grandparent=BREAKING_BAD)
    del meta["index"]
    with pytest.raises(EventError, match="parentIndex/index 1/None"):
        mapped(meta)


# --- metadata responses: XML and JSON ---------------------------------------------------------------


def test_xml_and_json_metadata_give_the_same_event() -> None:
    as_json = json.dumps({"MediaContainer": {"size": 1, "librarySectionID": 2, "Metadata": [CATS_IN_THE_BAG]}}).encode()
    assert map_metadata(CATS_XML) == map_metadata(as_json)
    meta = parse_metadata_response(CATS_XML)
    assert meta["index"] == 2 and meta["librarySectionID"] == 2 and meta["ratingKey"] == "9725"
    assert meta["Guid"] == CATS_IN_THE_BAG["Guid"]


def test_xml_directory_element_for_a_show() -> None:
    element = ET.fromstring('<Directory ratingKey="9700" type="show" title="Breaking Bad" year="2008" '
                            'guid="plex://show/5d9c086c46115600200aa2fe"><Guid id="tvdb://81189"/></Directory>')
    assert metadata_from_xml(element) == {"ratingKey": "9700", "type": "show", "title": "Breaking Bad", "year": 2008,
                                          "guid": "plex://show/5d9c086c46115600200aa2fe", "Guid": [{"id": "tvdb://81189"}]}


def test_json_response_keeps_an_inlined_grandparent() -> None:
    body = json.dumps({"MediaContainer": {"Metadata": [dict(CATS_IN_THE_BAG, grandparent=BREAKING_BAD)]}}).encode()
    event = map_metadata(body)
    assert event.ids.tvdb == 81189 and event.position == 1200.0


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "not JSON"),
        (b"<MediaContainer><Video", "not XML"),
        (b"[1, 2]", "MediaContainer.Metadata: missing"),
        (b'{"MediaContainer": {"size": 0}}', "MediaContainer.Metadata: missing or empty"),
        (b"<MediaContainer size='0'/>", "no <Video> or <Directory>"),
        (b'<MediaContainer><Video type="episode" ratingKey="1" index="two"/></MediaContainer>', "index: 'two' is not a number"),
        (json.dumps({"MediaContainer": {"Metadata": [dict(MATRIX, duration="long")]}}).encode(), "Metadata.duration"),
        (json.dumps({"MediaContainer": {"Metadata": [dict(MATRIX, ratingKey=None)]}}).encode(), "Metadata.ratingKey"),
    ],
)
def test_garbage_metadata_is_one_line_naming_what_was_wrong(payload, message) -> None:
    with pytest.raises(EventError) as err:
        map_metadata(payload)
    assert message in str(err.value) and "\n" not in str(err.value)


# --- webhooks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "state"),
    [("media.play", State.PLAYING), ("media.resume", State.PLAYING), ("media.pause", State.PAUSED),
     ("media.stop", State.STOPPED), ("media.scrobble", State.WATCHED)],
)
def test_webhook_playback_events(name, state) -> None:
    event = webhook_event(webhook(name), server="Basement", at=1700000000.0)
    assert (event.state, event.user, event.session, event.server) == (state, "alice", "shield-1/26697", "Basement")
    assert (event.position, event.at, event.ids.tmdb) == (4080.0, 1700000000.0, 603)


@pytest.mark.parametrize("name", ["library.new", "library.on.deck", "media.rate", "admin.database.backup",
                                  "admin.database.corrupted", "device.new", "playback.started"])
def test_webhook_events_that_are_not_playback_are_ignored(name) -> None:
    assert webhook_event(webhook(name, rating=5.0), server="Basement", at=1.0) is None


def test_webhook_user_falls_back_to_the_account_id_and_position_to_zero() -> None:
    payload = webhook("media.play", {k: v for k, v in MATRIX.items() if k != "viewOffset"})
    payload["Account"] = {"id": 4242}
    event = webhook_event(payload, server="Basement", at=1.0)
    assert (event.user, event.position) == ("4242", 0.0)


def test_legacy_episode_webhook_needs_no_grandparent() -> None:
    payload = webhook("media.scrobble", legacy_episode("com.plexapp.agents.thetvdb://81189/1/2?lang=en"))
    event = webhook_event(payload, server="Basement", at=1.0)
    assert history_body(event)["shows"][0]["ids"] == {"tvdb": 81189}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.pop("Metadata"), "plex webhook Metadata: missing"),
        (lambda p: p.update(Metadata=[1]), "plex webhook Metadata: expected an object, got list"),
        (lambda p: p.update(event=7), "plex webhook event: expected a string, got int"),
        (lambda p: p.update(Account={"thumb": "x"}), "plex webhook Account: neither a title nor an id"),
        (lambda p: p.update(Player={"title": "TV"}), "plex webhook Player.uuid: missing"),
        (lambda p: p["Metadata"].update(viewOffset="12s"), "plex Metadata.viewOffset: expected milliseconds"),
        (lambda p: p["Metadata"].pop("type"), "plex webhook Metadata.type: expected a string, got None"),
    ],
)
def test_garbage_webhooks_are_one_line_naming_the_field(mutate, message) -> None:
    payload = webhook()
    mutate(payload)
    with pytest.raises(EventError) as err:
        webhook_event(payload, server="Basement", at=1.0)
    assert message in str(err.value)


def test_a_webhook_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(EventError, match="expected a JSON object"):
        webhook_event(["media.play"], server="Basement", at=1.0)


# --- library exclusion ------------------------------------------------------------------------------


def test_excluded_libraries_match_by_title_in_any_case_or_by_id() -> None:
    assert in_excluded_library(MATRIX, ["movies"])
    assert in_excluded_library(MATRIX, [1])
    assert in_excluded_library(MATRIX, ["1"])
    assert in_excluded_library(parse_metadata_response(CATS_XML), ["Kids", 2])
    assert not in_excluded_library(MATRIX, ["Movies 4K", 3, "TV Shows"])
    assert not in_excluded_library(MATRIX, [])


# --- simkl-bridge map --------------------------------------------------------------------------------


def run_map(capsys, source: str, path: Path) -> tuple[int, str, str]:
    code = main(["map", "--from", source, str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def test_map_plex_webhook_prints_event_and_history(tmp_path, capsys) -> None:
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(webhook("media.scrobble", legacy_episode("com.plexapp.agents.hama://anidb-8692/1/14?lang=en"))))
    code, out, err = run_map(capsys, "plex-webhook", path)
    assert code == 0, err
    shown = json.loads(out)
    assert shown["event"]["state"] == "watched" and shown["event"]["numbering"] == "anidb"
    assert shown["history"]["anime"][0]["seasons"] == [{"number": 1, "episodes": [{"number": 14}]}]


def test_map_plex_metadata_reads_xml(tmp_path, capsys) -> None:
    path = tmp_path / "9725.xml"
    path.write_bytes(CATS_XML)
    code, out, err = run_map(capsys, "plex-metadata", path)
    assert code == 0, err
    assert json.loads(out)["history"] == {"episodes": [{"ids": {"imdb": "tt1054724", "tmdb": 62086, "tvdb": 349233}}]}


@pytest.mark.parametrize(
    ("source", "payload", "message"),
    [
        ("plex-webhook", "{oops", "not JSON"),
        ("plex-webhook", json.dumps(webhook("library.new")), "'library.new' about 'movie': not a playback"),
        ("plex-webhook", json.dumps({"event": "library.new"}), "'library.new' about 'nothing'"),
        ("plex-webhook", json.dumps(webhook("media.play", dict(MATRIX, Guid=[], guid="local://9"))), "local://9"),
        ("plex-metadata", "<MediaContainer>", "not XML"),
        ("plex-metadata", json.dumps({"MediaContainer": {}}), "MediaContainer.Metadata"),
    ],
)
def test_map_plex_garbage_exits_2_with_one_line(tmp_path, capsys, source, payload, message) -> None:
    path = tmp_path / "payload"
    path.write_text(payload)
    code, out, err = run_map(capsys, source, path)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1
