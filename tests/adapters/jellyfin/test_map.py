"""Jellyfin items, sessions and webhook bodies as the bridge maps them, and the shipped template."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bridge.adapters.jellyfin.map import (
    NotMatched,
    item_event,
    map_session,
    map_webhook,
    norm_id,
    played_session,
    session_event,
    webhook_event,
)
from bridge.cli import main
from bridge.engine import Engine
from bridge.events import EventError, Ids, Kind, Numbering, PlayEvent, State
from bridge.simkl.bodies import history_body
from bridge.times import TICKS_PER_SECOND
from bridge.writes import HISTORY, PAUSE

TEMPLATE = Path(__file__).resolve().parents[3] / "plugins" / "jellyfin" / "simkl-bridge.handlebars"
MIN = 60 * TICKS_PER_SECOND

MATRIX = {"Type": "Movie", "Id": "f8a1c0de6f3b4b1e9d2a7c5e4b3a2f10", "Name": "The Matrix", "ProductionYear": 1999,
          "RunTimeTicks": 136 * MIN, "ProviderIds": {"Tmdb": "603", "Imdb": "tt0133093", "TmdbCollection": "2344"}}
BREAKING_BAD = {"Type": "Series", "Id": "5b1e", "Name": "Breaking Bad", "ProductionYear": 2008,
                "ProviderIds": {"Tvdb": "81189", "Tmdb": "1396", "Imdb": "tt0903747"}}
OZYMANDIAS = {"Type": "Episode", "Id": "9c4d", "Name": "Ozymandias", "SeriesName": "Breaking Bad", "SeriesId": "5b1e",
              "ParentIndexNumber": 5, "IndexNumber": 14, "RunTimeTicks": 47 * MIN,
              "ProviderIds": {"Tvdb": "4634156", "Imdb": "tt2301451"}}
COWBOY_BEBOP = {"Type": "Series", "Name": "Cowboy Bebop", "ProductionYear": 1998, "ProviderIds": {"AniDB": "23"}}


def play(item: dict, state: State = State.PLAYING, ticks: int | None = 10 * MIN, series: dict | None = None) -> PlayEvent:
    return item_event(item, server="home", user="alice", session="s1", state=state, position_ticks=ticks, at=1000.0,
                      series=series)


def all_properties(**over: Any) -> dict[str, Any]:
    """A "Send All Properties" PlaybackStop body for Ozymandias, with the plugin's own JSON types."""
    body = {"NotificationType": "PlaybackStop", "ServerName": "home", "ItemType": "Episode",
            "ItemId": "9c4d0000000000000000000000000000", "Name": "Ozymandias", "Year": 2008,
            "SeriesName": "Breaking Bad", "SeriesId": "5b1e0000000000000000000000000000", "SeasonNumber": 5,
            "SeasonNumber00": "05", "EpisodeNumber": 14, "EpisodeNumber00": "14", "RunTimeTicks": 47 * MIN,
            "RunTime": "00:47:00", "PlaybackPositionTicks": 46 * MIN, "PlaybackPosition": "00:46:00",
            "IsPaused": False, "PlayedToCompletion": True, "NotificationUsername": "alice",
            "UserId": "0e6a", "DeviceId": "TW96aWxsYQ==", "ClientName": "Jellyfin Web",
            "Provider_tvdb": "4634156", "Provider_imdb": "tt2301451", "Video_0_Codec": "h264"}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def stringified(body: dict[str, Any]) -> dict[str, Any]:
    """What Generic Form and hand-written templates deliver: every value as C# renders it."""
    return {k: (str(v) if isinstance(v, (bool, int)) else v) for k, v in body.items()}


def render(template: str, variables: dict[str, Any]) -> str:
    """Just enough Handlebars for the shipped template: {{{Name}}} substitution, missing = ""."""
    return re.sub(r"\{\{\{(\w+)\}\}\}", lambda m: str(variables.get(m.group(1), "")), template)


# -- BaseItemDto ----------------------------------------------------------------------------------


def test_movie_is_matched_by_its_provider_ids_with_ticks_as_seconds() -> None:
    event = play(MATRIX, ticks=68 * MIN)
    assert event.kind is Kind.MOVIE
    assert event.ids == Ids(tmdb=603, imdb="tt0133093")
    assert (event.position, event.duration, event.progress) == (68 * 60, 136 * 60, 50.0)
    assert event.matched_by == "jellyfin item ProviderIds imdb,tmdb"
    assert history_body(event) == {"movies": [{"title": "The Matrix", "year": 1999,
                                               "ids": {"tmdb": 603, "imdb": "tt0133093"}}]}


def test_episode_carries_the_series_ids_its_numbers_and_its_own_ids() -> None:
    event = play(OZYMANDIAS, series=BREAKING_BAD)
    assert event.ids == Ids(tvdb=81189, tmdb=1396, imdb="tt0903747")
    assert (event.season, event.episodes) == (5, (14,))
    assert event.episode_ids == Ids(tvdb=4634156, imdb="tt2301451")
    assert (event.title, event.year, event.numbering) == ("Breaking Bad", 2008, Numbering.TV)
    (show,) = history_body(event)["shows"]
    assert show["ids"] == {"tvdb": 81189, "tmdb": 1396, "imdb": "tt0903747"}
    assert show["seasons"] == [{"number": 5, "episodes": [{"number": 14, "ids": {"tvdb": 4634156, "imdb": "tt2301451"}}]}]


def test_multi_episode_file_marks_every_episode_it_holds() -> None:
    event = play(dict(OZYMANDIAS, ParentIndexNumber=1, IndexNumber=1, IndexNumberEnd=3), series=BREAKING_BAD)
    assert event.episodes == (1, 2, 3)
    (show,) = history_body(event)["shows"]
    assert [e["number"] for e in show["seasons"][0]["episodes"]] == [1, 2, 3]


def test_anime_known_only_by_anidb_goes_to_the_anime_bucket_in_anidb_numbering() -> None:
    session1 = {"Type": "Episode", "Name": "Asteroid Blues", "ParentIndexNumber": 1, "IndexNumber": 1,
                "RunTimeTicks": 24 * MIN, "ProviderIds": {"AniDB": "2317"}}
    event = play(session1, series=COWBOY_BEBOP)
    assert event.numbering is Numbering.ANIDB and event.ids == Ids(anidb=23)
    assert list(history_body(event)) == ["anime"]
    # With a tvdb id beside it, the numbers are TVDB's: a show, mapped by Simkl onto its anime entries.
    tvdb_scraped = dict(COWBOY_BEBOP, ProviderIds={"AniDb": "23", "Tvdb": "76885"})
    event = play(session1, series=tvdb_scraped)
    assert event.numbering is Numbering.TV
    assert history_body(event)["shows"][0]["use_tvdb_anime_seasons"] is True


def test_an_unidentified_item_is_not_matched_and_names_itself_in_one_line() -> None:
    with pytest.raises(NotMatched) as err:
        play(dict(MATRIX, ProviderIds={}, Name="home video 2019"))
    assert "'home video 2019'" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(NotMatched, match=r"'Ozymandias'.*neither the episode nor its series"):
        play(dict(OZYMANDIAS, ProviderIds={"Tvdb": ""}), series=dict(BREAKING_BAD, ProviderIds={"Zap2It": "EP1"}))
    with pytest.raises(NotMatched, match="only movies and episodes"):
        play({"Type": "Audio", "Name": "Song", "ProviderIds": {"MusicBrainzTrack": "x"}})


def test_an_episode_whose_series_is_unknown_is_marked_by_its_own_ids() -> None:
    event = play(OZYMANDIAS)
    assert not event.ids and event.episode_ids == Ids(tvdb=4634156, imdb="tt2301451")
    assert (event.title, event.season, event.episodes) == ("Breaking Bad", 5, (14,))
    assert history_body(event) == {"episodes": [{"ids": {"tvdb": 4634156, "imdb": "tt2301451"}}]}


def test_an_unknown_position_reports_no_duration_so_the_engine_keeps_the_last_one() -> None:
    engine = Engine(lambda *_: "alice")
    engine.handle(play(MATRIX, State.PLAYING, ticks=120 * MIN))
    writes = engine.handle(play(MATRIX, State.STOPPED, ticks=None))
    assert [w.kind for w in writes] == [HISTORY]


# -- /Sessions ----------------------------------------------------------------------------------


def session(**over: Any) -> dict[str, Any]:
    s = {"Id": "a1b2", "UserName": "alice", "Client": "Jellyfin Web", "DeviceId": "dev",
         "PlayState": {"PositionTicks": 20 * MIN, "IsPaused": True, "CanSeek": True},
         "NowPlayingItem": dict(OZYMANDIAS, Series=BREAKING_BAD)}
    s.update(over)
    return s


def test_session_maps_user_state_position_and_inlined_series() -> None:
    event = session_event(session(), server="home", at=5.0)
    assert event is not None
    assert (event.user, event.session, event.state, event.position) == ("alice", "a1b2", State.PAUSED, 20 * 60)
    assert event.ids.tvdb == 81189 and event.at == 5.0
    playing = session_event(session(PlayState={"PositionTicks": 0}, NowPlayingItem=OZYMANDIAS, Series=BREAKING_BAD),
                            server="home", at=5.0)
    assert playing is not None and playing.state is State.PLAYING and playing.ids.tvdb == 81189


def test_an_idle_session_is_no_event() -> None:
    assert session_event({"Id": "a1b2", "UserName": "alice", "PlayState": {"CanSeek": False}}, server="h", at=0) is None


# -- webhooks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("form", [dict, stringified], ids=["json-types", "strings"])
def test_send_all_properties_body_maps_with_typed_or_string_values(form) -> None:
    event = webhook_event(form(all_properties(PlayedToCompletion=False)), server="home", at=9.0)
    assert event is not None
    assert (event.state, event.user, event.season, event.episodes) == (State.STOPPED, "alice", 5, (14,))
    assert (event.position, event.duration) == (46 * 60, 47 * 60)
    assert event.episode_ids == Ids(tvdb=4634156, imdb="tt2301451") and not event.ids
    assert event.session == "TW96aWxsYQ==/9c4d0000000000000000000000000000"
    paused = webhook_event(form(all_properties(NotificationType="PlaybackProgress", IsPaused=True)), server="h", at=0)
    assert paused is not None and paused.state is State.PAUSED


def test_webhook_uses_the_series_when_the_caller_fetched_it() -> None:
    event = webhook_event(all_properties(), server="home", at=0, series=BREAKING_BAD)
    assert event is not None and event.ids.tvdb == 81189 and event.episode_ids.tvdb == 4634156
    assert "shows" in history_body(event)


def test_one_playback_keeps_one_session_key_across_id_spellings() -> None:
    start = webhook_event(all_properties(NotificationType="PlaybackStart", ItemId="9C4D0000-0000-0000-0000-000000000000"),
                          server="h", at=0)
    stop = webhook_event(all_properties(), server="h", at=1)
    assert start is not None and stop is not None and start.session == stop.session


@pytest.mark.parametrize(("over", "expected"), [
    ({"NotificationType": "ItemAdded"}, None),
    ({"NotificationType": "UserDataSaved", "SaveReason": "PlaybackProgress", "Played": "False"}, None),
    ({"NotificationType": "UserDataSaved", "SaveReason": "TogglePlayed", "Played": "False"}, None),
    ({"NotificationType": "UserDataSaved", "SaveReason": "TogglePlayed", "Played": "True", "DeviceId": None}, State.WATCHED),
])
def test_only_playback_and_hand_marked_played_are_events(over: dict, expected: State | None) -> None:
    event = webhook_event(all_properties(**over), server="h", at=0)
    assert (event.state if event else None) is expected


def test_form_fields_from_the_generic_form_destination_map_too() -> None:
    from urllib.parse import urlencode

    event = map_webhook(urlencode(stringified(all_properties(NotificationType="PlaybackStart"))).encode())
    assert event.state is State.PLAYING and event.episode_ids.tvdb == 4634156


# -- the shipped template -----------------------------------------------------------------------


def test_template_sends_each_plugin_variable_under_its_own_name_and_is_json_when_empty() -> None:
    text = TEMPLATE.read_text()
    # Triple braces: the plugin's renderer would HTML-escape {{x}} ("O'Brien" -> "O&#x27;Brien").
    assert re.findall(r"\{\{[^{]", text.replace("{{{", "")) == []
    fields = json.loads(text.replace("{{{", "").replace("}}}", ""))
    assert all(v == k for k, v in fields.items())
    assert json.loads(render(text, {})) == {k: "" for k in fields}


def test_template_rendered_by_the_plugin_maps_like_send_all_properties() -> None:
    text = TEMPLATE.read_text()
    # The plugin escapes quotes in names itself; C# renders booleans as True/False.
    variables = stringified(all_properties(Name='The "Fly"'.replace('"', '\\"')))
    rendered = webhook_event(json.loads(render(text, variables)), server="home", at=9.0)
    direct = webhook_event(all_properties(Name='The "Fly"'), server="home", at=9.0)
    assert rendered == direct


def test_template_with_missing_values_still_maps_what_it_can() -> None:
    # A movie start: no series, season, episode, completion or anime ids; the plugin omits them.
    variables = {"NotificationType": "PlaybackStart", "ItemType": "Movie", "ItemId": "f8a1", "Name": "The Matrix",
                 "RunTimeTicks": str(136 * MIN), "PlaybackPositionTicks": "0", "IsPaused": "False",
                 "NotificationUsername": "alice", "DeviceId": "d", "Provider_tmdb": "603"}
    event = map_webhook(render(TEMPLATE.read_text(), variables).encode())
    assert event.kind is Kind.MOVIE and event.ids == Ids(tmdb=603) and event.year is None
    assert event.matched_by == "jellyfin webhook Provider_* tmdb"
    with pytest.raises(NotMatched):
        map_webhook(render(TEMPLATE.read_text(), dict(variables, Provider_tmdb="")).encode())


# -- PlayedToCompletion through the engine --------------------------------------------------------


def deliver(engine: Engine, *bodies: dict) -> list:
    writes = []
    for at, body in enumerate(bodies):
        event = webhook_event(body, server="home", at=1000.0 + at * 60)
        assert event is not None
        writes += engine.handle(event)
    return writes


def test_played_to_completion_marks_once_even_below_the_bridge_threshold() -> None:
    # The admin set Jellyfin's max-resume to 70%: the server calls 75% complete; the bridge agrees.
    engine = Engine(lambda *_: "alice")
    start = stringified(all_properties(NotificationType="PlaybackStart", PlaybackPositionTicks=0))
    stop = stringified(all_properties(PlaybackPositionTicks=35 * MIN, PlayedToCompletion=True))
    writes = deliver(engine, start, stop, stop)
    assert [w.kind for w in writes if w.kind == HISTORY] == [HISTORY]


def test_a_stop_not_played_to_completion_saves_a_resume_point() -> None:
    engine = Engine(lambda *_: "alice")
    writes = deliver(engine, webhook_for_movie("PlaybackStart", 0), webhook_for_movie("PlaybackStop", 35 * MIN, False))
    assert [w.kind for w in writes] == ["start", PAUSE]
    assert writes[-1].body["progress"] == pytest.approx(25.74, abs=0.01)


def test_played_to_completion_without_a_length_still_marks_once() -> None:
    engine = Engine(lambda *_: "alice")
    stop = webhook_for_movie("PlaybackStop", 0, True, RunTimeTicks="0")
    writes = deliver(engine, stop, stop)
    assert [w.kind for w in writes] == [HISTORY]


def test_a_stop_without_a_position_keeps_the_last_reported_one() -> None:
    # The plugin writes 0 when the client reported no stop position: not "stopped at the start".
    engine = Engine(lambda *_: "alice")
    writes = deliver(engine, webhook_for_movie("PlaybackProgress", 120 * MIN), webhook_for_movie("PlaybackStop", 0, False))
    assert [w.kind for w in writes] == ["start", HISTORY]


def webhook_for_movie(kind: str, ticks: int, completed: bool | None = None, **over: Any) -> dict:
    body = {"NotificationType": kind, "ItemType": "Movie", "ItemId": "f8a1", "Name": "The Matrix",
            "Year": "1999", "RunTimeTicks": str(136 * MIN), "PlaybackPositionTicks": str(ticks),
            "IsPaused": "False", "NotificationUsername": "alice", "DeviceId": "d", "Provider_tmdb": "603"}
    if completed is not None:
        body["PlayedToCompletion"] = str(completed)
    body.update(over)
    return body


# -- garbage ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("over", "field"), [
    ({"RunTimeTicks": "about an hour"}, "jellyfin webhook.RunTimeTicks: 'about an hour'"),
    ({"IsPaused": "maybe"}, "jellyfin webhook.IsPaused: 'maybe'"),
    ({"SeasonNumber": "-1"}, "jellyfin webhook.SeasonNumber: '-1'"),
    ({"EpisodeNumberEnd": 9999}, "jellyfin webhook.EpisodeNumberEnd: 9999"),
    ({"NotificationType": None}, "jellyfin webhook.NotificationType: missing"),
    ({"NotificationUsername": None}, "jellyfin webhook.NotificationUsername: missing"),
])
def test_garbage_is_one_line_naming_the_field(over: dict, field: str) -> None:
    with pytest.raises(EventError) as err:
        webhook_event(all_properties(**over), server="h", at=0)
    assert str(err.value).startswith(field) and "\n" not in str(err.value)


@pytest.mark.parametrize(("payload", "message"), [
    ({"Id": "s", "PlayState": {"PositionTicks": "x"}, "NowPlayingItem": MATRIX}, "jellyfin session.PlayState.PositionTicks"),
    ({"Id": "s", "NowPlayingItem": dict(MATRIX, ProviderIds=["603"])}, "jellyfin item.ProviderIds: expected an object"),
    ({"Id": "s", "NowPlayingItem": dict(MATRIX, RunTimeTicks=True)}, "jellyfin item.RunTimeTicks: True"),
    (["not a session"], "jellyfin session: expected a JSON object"),
])
def test_session_garbage_is_one_line_naming_the_field(payload: Any, message: str) -> None:
    with pytest.raises(EventError) as err:
        map_session(json.dumps(payload).encode())
    assert str(err.value).startswith(message)


# -- the command line ---------------------------------------------------------------------------


def test_map_command_reads_a_webhook_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "stop.json"
    path.write_text(json.dumps(all_properties(EpisodeNumberEnd=15)))
    assert main(["map", "--from", "jellyfin-webhook", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["event"]["episodes"] == [14, 15] and out["event"]["state"] == "stopped"
    assert out["history"] == {"episodes": [{"ids": {"tvdb": 4634156, "imdb": "tt2301451"}}]}


def test_map_command_reads_a_sessions_reply(tmp_path: Path, capsys) -> None:
    path = tmp_path / "sessions.json"
    idle = {"Id": "idle", "UserName": "bob", "PlayState": {}}
    path.write_text(json.dumps([idle, session(PlayState={"PositionTicks": 5 * MIN})]))
    assert main(["map", "--from", "jellyfin-session", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["event"]["user"] == "alice" and out["event"]["position"] == 300
    assert out["history"]["shows"][0]["ids"]["tvdb"] == 81189


@pytest.mark.parametrize(("source", "payload", "message"), [
    ("jellyfin-webhook", b"<html>", "neither a JSON object nor form fields"),
    ("jellyfin-webhook", b'{"NotificationType": "ItemAdded"}', "'ItemAdded' is not a playback notification"),
    ("jellyfin-webhook", b'{"NotificationType": "PlaybackStart", "ItemType": "Movie"', "not JSON"),
    ("jellyfin-session", b"[]", "no NowPlayingItem"),
    ("jellyfin-session", json.dumps(session(NowPlayingItem=dict(MATRIX, ProviderIds={}))).encode(), "no usable ProviderIds"),
])
def test_map_command_refuses_garbage_with_exit_2_and_one_line(tmp_path: Path, capsys, source: str, payload: bytes,
                                                              message: str) -> None:
    path = tmp_path / "payload"
    path.write_bytes(payload)
    assert main(["map", "--from", source, str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err and len(captured.err.strip().splitlines()) == 1


def test_the_other_webhook_plugin_is_named_rather_than_misread() -> None:
    body = {"Event": "Stop", "Item": {"Type": "Movie", "ProviderIds": {"Tmdb": "603"}}, "User": {"Name": "alice"}}
    with pytest.raises(EventError, match="shemanaev/jellyfin-plugin-webhooks"):
        webhook_event(body, server="h", at=0)


def test_a_hand_mark_reported_by_the_webhook_and_the_socket_is_marked_once() -> None:
    engine = Engine(lambda *_: "alice")
    toggled = stringified(all_properties(NotificationType="UserDataSaved", SaveReason="TogglePlayed", Played=True,
                                         UserId="0E6A", DeviceId=None, PlayedToCompletion=None))
    from_webhook = webhook_event(toggled, server="home", at=1000.0, series=BREAKING_BAD)
    # The socket's UserDataChanged for the same click, a few seconds later, as the live adapter maps it.
    from_socket = item_event(OZYMANDIAS, server="home", user="alice", state=State.WATCHED, position_ticks=None,
                             at=1004.0, series=BREAKING_BAD, session=played_session("0e6a", "9c4d0000-0000-0000-0000-000000000000"))
    assert from_webhook is not None
    writes = engine.handle(from_webhook) + engine.handle(from_socket)
    assert [w.kind for w in writes] == [HISTORY]


def test_a_huge_bad_value_is_named_in_a_short_line() -> None:
    for over in ({"PlaybackPositionTicks": "9" * 10 + "x" * 100_000}, {"IsPaused": "y" * 100_000},
                 {"Name": "n" * 100_000, "ItemType": "Audio"}, {"NotificationType": ["x"] * 50_000}):
        with pytest.raises(EventError) as err:
            map_webhook(json.dumps(all_properties(**over)).encode())
        assert len(str(err.value)) < 300


def test_ids_are_compared_without_dashes_or_case() -> None:
    assert norm_id("6F1E4E2C-8A53-4B3B-9E5F-0C0D5E2A1B7C") == "6f1e4e2c8a534b3b9e5f0c0d5e2a1b7c"
