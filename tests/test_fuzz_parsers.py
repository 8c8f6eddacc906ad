"""Every parser of outside input is total: for any input it returns a result or raises the project's own
one-line error (EventError, ConfigError), never another exception, and never a value that is no value
(a position of NaN or 1e999, an id of Unicode digits). Property-based (Hypothesis): valid payloads of
each server with fields replaced by hostile values, and raw bytes.

Bounded in every run (EXAMPLES per parser); `BRIDGE_LONG=1 python3 -m pytest -m long tests/test_fuzz_parsers.py`
runs LONG_EXAMPLES per parser by hand. Each run prints the inputs tried per parser."""

from __future__ import annotations

import copy
import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.adapters import map_event
from bridge.adapters.jellyfin import map as jellyfin
from bridge.adapters.kodi import map as kodi
from bridge.adapters.plex import guid as plex_guid
from bridge.adapters.plex import map as plex
from bridge.config import ConfigError, parse
from bridge.events import EventError, PlayEvent, State, from_json
from bridge.ids import clean_ids
from bridge.reconcile import to_resume
from tests.adapters.jellyfin.test_map import MATRIX as JF_MATRIX
from tests.adapters.jellyfin.test_map import OZYMANDIAS, all_properties
from tests.adapters.kodi.payloads import EPISODE as KODI_EPISODE
from tests.adapters.kodi.payloads import MOVIE as KODI_MOVIE
from tests.adapters.kodi.payloads import PAUSED_AT_40, SHOW
from tests.adapters.plex.test_map import BREAKING_BAD, CATS_IN_THE_BAG, CATS_XML
from tests.adapters.plex.test_map import MATRIX as PLEX_MATRIX
from tests.test_events import EPISODE as EVENT

LONG = os.environ.get("BRIDGE_LONG") == "1"
EXAMPLES, LONG_EXAMPLES = 300, 20_000
TRIED: Counter[str] = Counter()
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# What outside data has been seen to hold: Unicode digits ("²".isdigit() is true, int("²") fails),
# numbers past float range and past int()'s 4,300 digits, NaN and infinities, line breaks in ids.
HOSTILE = st.sampled_from([
    "²", "١٢٣", "6０3", "603\n", "603\nforged log line", "\x1b[31m", "\u2028", "tt0133093\r\n", "", " ", "-1", "0",
    "1e999", "NaN", "Infinity", "True", "null", "9" * 25, "plex://movie/x", "tmdb://²", "tvdb://81189/²/1",
    10**400, -(10**400), 2**63, -1, 0, float("nan"), float("inf"), float("-inf"), 1e308, -0.0, True, False, None,
    [], {}, [[[[]]]],
])
SCALARS = (HOSTILE | st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                          max_size=3), max_leaves=8)


def paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a JSON value (where a hostile value can go)."""
    found = [here]
    if isinstance(value, dict):
        for k, v in value.items():
            found += paths(v, (*here, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += paths(v, (*here, i))
    return found


@st.composite
def mutated(draw: Any, template: Any) -> Any:
    """`template` with a few of its values (or itself) replaced, or a key added."""
    value = copy.deepcopy(template)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(value)))
        new = copy.deepcopy(draw(VALUES))  # HOSTILE's containers are shared: never one to mutate
        if not where:
            return new
        parent = value
        for step in where[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            parent[draw(st.text(max_size=8))] = new
        else:
            parent[where[-1]] = new
    return value


def deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def as_bytes(values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """JSON text of values, and raw bytes, and nesting 100,000 deep."""
    def dumps(v: Any) -> bytes:
        return json.dumps(v, allow_nan=True).encode()
    hostile = st.sampled_from([100_000, 40]).map(deep) | st.sampled_from([5000, 4301]).map(lambda n: b"1" * n)
    return values.map(dumps) | st.binary(max_size=64) | hostile | st.just(b"\xff\xfe{")


def check_event(event: Any) -> None:
    """A PlayEvent whose every number is a number and every id an id."""
    if event is None:
        return
    assert isinstance(event, PlayEvent)
    for name in ("position", "duration", "at"):
        value = getattr(event, name)
        assert isinstance(value, float) and math.isfinite(value) and value >= 0, (name, value)
    assert 0 <= event.progress <= 100
    for ids in (event.ids, event.episode_ids):
        for key, value in ids.as_dict().items():
            assert (isinstance(value, str) and value.isascii()) or (type(value) is int and 0 < value < 2**63), (key, value)
    assert event.season is None or (type(event.season) is int and 0 <= event.season < 2**31)
    assert all(type(e) is int and 0 <= e < 2**31 for e in event.episodes)
    assert event.year is None or (type(event.year) is int and 0 < event.year < 10_000)
    assert event.ids or event.episode_ids


def total(name: str, parse_input: Callable[[Any], Any], value: Any, errors: tuple[type[Exception], ...] = (EventError,)) -> None:
    TRIED[name] += 1
    try:
        result = parse_input(value)
    except errors as exc:
        message = str(exc)
        assert message and not CONTROL.search(message), f"{name}: {message!r}"
        return
    check_event(result)


def webhook_json(body: Any) -> Any:
    return plex.webhook_event(body, server="plex", at=0.0)


def plex_meta(meta: Any) -> Any:
    return plex.event_from_metadata(meta, server="plex", user="u", session="s", state=State.PAUSED, position=0.0, at=0.0)


def excluded(meta: Any) -> Any:
    if isinstance(meta, dict):
        plex.in_excluded_library(meta, ["²", "Movies", "7", 3])
        plex.to_read(meta)
        plex.same_file_episodes(meta, [meta])
    return None


def guids(value: Any) -> Any:
    plex_guid.parse_guid(value)
    plex_guid.guid_list_ids(value)
    return None


def jellyfin_item(item: Any) -> Any:
    return jellyfin.item_event(item, server="j", user="u", session="s", state=State.PLAYING, position_ticks=10**9,
                               at=0.0, series={"ProviderIds": {"Tvdb": "81189"}})


def jellyfin_session(session: Any) -> Any:
    return jellyfin.session_event(session, server="j", at=0.0)


def jellyfin_webhook(body: Any) -> Any:
    return jellyfin.webhook_event(body, server="j", at=0.0) if isinstance(body, dict) else jellyfin.webhook_state(body)


def kodi_item(args: Any) -> Any:
    item, show, properties = args
    return kodi.event_from_item(item, server="k", user="u", session="s", state=State.PAUSED, at=0.0, tvshow=show,
                                properties=properties)


def ids(raw: Any) -> Any:
    if isinstance(raw, dict):
        clean_ids(raw, strict=False)
        clean_ids(raw, where="fuzz")
    return None


def playback(value: Any) -> Any:
    to_resume("alice", value) if isinstance(value, dict) else None
    return None


def config(text: str) -> Any:
    parse(text)
    return None


PLAYBACK = {"id": 1, "progress": 40.0, "paused_at": "2024-01-01T00:00:00Z", "type": "episode",
            "episode": {"season": 1, "number": 2}, "show": {"title": "Breaking Bad", "ids": {"tvdb": 81189}}}
PLEX_WEBHOOK = {"event": "media.pause", "Account": {"title": "alice", "id": 1}, "Server": {"title": "home"},
                "Player": {"uuid": "p1"}, "Metadata": CATS_IN_THE_BAG}
SESSION = {"Id": "s1", "UserName": "alice", "NowPlayingItem": OZYMANDIAS, "PlayState": {"PositionTicks": 10**10, "IsPaused": True},
           "Series": {"ProviderIds": {"Tvdb": "81189"}}}
CONFIG = """state_dir: /tmp/fuzz-state
simkl: {client_id: emulator-client}
accounts: {alice: {}}
users: [{user: alice, account: alice}]
plex: [{name: home, url: "http://127.0.0.1:32400", token: t, exclude_libraries: [Home Videos, 7]}]
"""
YAML_HOSTILE = st.sampled_from([
    "? [a, b]\n: 1\n", "state_dir: !!timestamp 2024-01-01\n", "a: !!float 1e999\n", "a: &x [*x]\n", "a: &a\n  b: *a\n",
    "plex: [{name: home, url: u, token: t, exclude_libraries: [²]}]\n", "{[1]: 2}\n", "a: !!binary AAAA\n",
    "a: !!python/object:os.system [x]\n", "\x00", "a: b\n" * 3, "accounts: {\"\\n\": {}}\n", "- - - - - - - - -\n",
])
YAML_TEXT = (YAML_HOSTILE | st.text(max_size=60) | st.builds(lambda a, b: CONFIG.replace(a, b),
                                                                st.sampled_from(["home", "alice", "7", "{}", "t", "/tmp"]),
                                                                st.text(max_size=10) | HOSTILE.map(str)))

TARGETS: dict[str, tuple[Callable[[Any], Any], st.SearchStrategy[Any], tuple[type[Exception], ...]]] = {
    "events.from_json": (from_json, mutated(EVENT) | VALUES, (EventError,)),
    "map --from event": (map_event, as_bytes(mutated(EVENT)), (EventError,)),
    "plex webhook payload": (webhook_json, mutated(PLEX_WEBHOOK) | VALUES, (EventError,)),
    "map --from plex-webhook": (plex.map_webhook, as_bytes(mutated(PLEX_WEBHOOK)), (EventError,)),
    "plex metadata": (plex_meta, mutated(dict(CATS_IN_THE_BAG, grandparent=BREAKING_BAD)) | mutated(PLEX_MATRIX), (EventError,)),
    "map --from plex-metadata": (plex.map_metadata, as_bytes(mutated({"MediaContainer": {"Metadata": [PLEX_MATRIX]}}))
                                 | st.sampled_from([CATS_XML, CATS_XML.replace(b'index="2"', b'index="\xc2\xb2"')]),
                                 (EventError,)),
    "plex libraries and reads": (excluded, mutated(PLEX_MATRIX) | mutated(CATS_IN_THE_BAG), (EventError,)),
    "plex guids": (guids, HOSTILE | st.text(max_size=30) | st.builds(lambda s, r: f"{s}://{r}", st.sampled_from(
        ["com.plexapp.agents.hama", "com.plexapp.agents.thetvdb", "tmdb", "com.plexapp.agents.xbmcnfotv",
         "net.fribbtastic.coding.plex.myanimelist"]), st.text(max_size=20)) | mutated(PLEX_MATRIX["Guid"]), (EventError,)),
    "jellyfin item": (jellyfin_item, mutated(JF_MATRIX) | mutated(OZYMANDIAS), (EventError,)),
    "jellyfin session": (jellyfin_session, mutated(SESSION), (EventError,)),
    "jellyfin webhook body": (jellyfin_webhook, mutated(all_properties()) | VALUES, (EventError,)),
    "map --from jellyfin-webhook": (jellyfin.map_webhook, as_bytes(mutated(all_properties())), (EventError,)),
    "map --from jellyfin-session": (jellyfin.map_session, as_bytes(mutated(SESSION)), (EventError,)),
    "kodi item": (kodi_item, st.tuples(mutated(KODI_EPISODE) | mutated(KODI_MOVIE), mutated(SHOW) | VALUES,
                                       mutated(PAUSED_AT_40) | VALUES), (EventError,)),
    "map --from kodi": (kodi.map_file, as_bytes(mutated({"item": KODI_EPISODE, "tvshow": SHOW, "properties": PAUSED_AT_40})),
                        (EventError,)),
    "ids": (ids, mutated({"tmdb": "603", "imdb": "tt0133093", "tvdb": 81189, "anidb": "69"}), (EventError,)),
    "simkl playback": (playback, mutated(PLAYBACK), (EventError,)),
    "config loader": (config, YAML_TEXT, (ConfigError,)),
}


def run(name: str, examples: int) -> None:
    parse_input, inputs, errors = TARGETS[name]

    @settings(max_examples=examples, deadline=None, database=None, derandomize=not LONG,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(inputs)
    def check(value: Any) -> None:
        total(name, parse_input, value, errors)

    check()
    print(f"{name}: {TRIED[name]} inputs")


@pytest.mark.parametrize("name", list(TARGETS))
def test_every_parser_returns_a_result_or_its_one_line_error(name: str) -> None:
    run(name, EXAMPLES)


@pytest.mark.long
@pytest.mark.slow
@pytest.mark.skipif(not LONG, reason="the long form: BRIDGE_LONG=1")
@pytest.mark.parametrize("name", list(TARGETS))
def test_every_parser_is_total_over_a_long_run(name: str) -> None:
    run(name, LONG_EXAMPLES)


# -- the inputs seen to break a parser, each a regression test --------------------------------------


def refused(parse_input: Callable[[Any], Any], value: Any, error: type[Exception] = EventError) -> str:
    with pytest.raises(error) as raised:
        parse_input(value)
    message = str(raised.value)
    assert not CONTROL.search(message), message
    return message


def test_unicode_digits_are_no_ids_guids_or_library_numbers() -> None:
    assert clean_ids({"tmdb": "²", "tvdb": "١٢٣", "imdb": "tt١٢٣٤٥٦٧"}, strict=False) == clean_ids({})
    assert refused(lambda raw: clean_ids(raw, where="event.ids"), {"tmdb": "²"}) == "event.ids.tmdb: '²' is not a valid tmdb id"
    assert plex_guid.parse_guid("tmdb://²") is None
    assert plex_guid.parse_guid("com.plexapp.agents.thetvdb://81189/١/٢") is None  # no season "1", episode "2"
    assert plex_guid.parse_guid("com.plexapp.agents.hama://anidb٢-69/1/1") is None
    # An excluded library written as "²" is no section number; every webhook is still mapped.
    assert plex.in_excluded_library({"librarySectionID": "²", "librarySectionTitle": "Movies"}, ["²"]) is False
    assert plex.in_excluded_library({"librarySectionID": 2, "librarySectionTitle": "TV"}, ["²", "2"]) is True
    config = parse(CONFIG.replace("[Home Videos, 7]", "[²]"))
    assert config.plex[0].exclude_libraries == ("²",)


@pytest.mark.parametrize("position", ["1e999", "-1e999", "NaN", "Infinity", "1" + "0" * 400],
                         ids=["1e999", "-1e999", "NaN", "Infinity", "past float range"])
def test_no_position_that_is_not_a_finite_number_makes_an_event(position: str) -> None:
    body = json.dumps(dict(EVENT, state="paused")).replace('"position": 600', f'"position": {position}').encode()
    message = refused(map_event, body)
    assert "event.position: expected a finite non-negative number of seconds" in message or "not JSON" in message
    webhook = json.dumps(PLEX_WEBHOOK).replace('"viewOffset": 1200000', f'"viewOffset": {position}').encode()
    assert refused(plex.map_webhook, webhook)
    ticks = dict(all_properties(NotificationType="PlaybackProgress"), PlaybackPositionTicks=position)
    assert refused(lambda b: jellyfin.webhook_event(b, server="j", at=0.0), ticks)


def test_a_kodi_time_that_is_no_number_is_an_unknown_position_not_the_end() -> None:
    nan = dict(PAUSED_AT_40, time={"hours": float("nan"), "minutes": 0, "seconds": 0, "milliseconds": 0})
    event = kodi_item((KODI_EPISODE, SHOW, nan))
    assert event.position == 0.0 and event.progress == 0.0


@pytest.mark.parametrize(("target", "make"), [
    ("map --from event", map_event), ("map --from plex-webhook", plex.map_webhook),
    ("map --from jellyfin-webhook", jellyfin.map_webhook), ("map --from jellyfin-session", jellyfin.map_session),
    ("map --from kodi", kodi.map_file), ("map --from plex-metadata", plex.map_metadata),
], ids=lambda v: v if isinstance(v, str) else "")
def test_json_nested_100000_deep_or_with_5000_digit_numbers_is_one_line(target: str, make: Callable[[bytes], Any]) -> None:
    assert "nested deeper than 32 levels" in refused(make, deep(100_000))
    assert "an integer of 5000 digits" in refused(make, b'{"a": ' + b"1" * 5000 + b"}")
    assert "not UTF-8 text" in refused(make, '{"a": 1}'.encode("utf-16"))


@pytest.mark.parametrize(("text", "error"), [
    ("? [a, b]\n: 1\n", "a key must be a plain name, not a list or a mapping"),
    ("{[1]: 2}\n", "a key must be a plain name"),
    ("a: &x [*x]\n", "an alias of the value it is inside (a loop)"),
    ("a: &a\n  b: *a\n", "an alias of the value it is inside (a loop)"),
    ("a: !E x\n", "not valid YAML (could not determine a constructor for the tag '!E')"),
    (CONFIG.replace("state_dir: /tmp/fuzz-state", "state_dir: !!timestamp 2024-01-01"), "state_dir: expected a string, got date"),
    ("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
     "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
     "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n", "more than 100000 values"),
], ids=["unhashable key", "flow unhashable key", "recursive sequence", "recursive mapping", "unknown tag",
        "timestamp", "alias bomb"])
def test_hostile_yaml_is_one_config_error(text: str, error: str) -> None:
    assert error in refused(parse, text, ConfigError)


def test_a_float_tag_that_is_no_finite_number_is_refused_by_its_key() -> None:
    text = CONFIG + "engine: {watched_threshold: !!float .inf, session_timeout: !!float .nan}\n"
    assert "engine.watched_threshold: must be between 1 and 100, got inf" in refused(parse, text, ConfigError)


def test_a_line_break_in_an_id_does_not_make_a_line_of_its_own() -> None:
    unmatched = dict(PLEX_MATRIX, ratingKey="26697\nforged: an ERROR line", Guid=[], guid="local://1\nforged")
    message = refused(plex_meta, unmatched)
    assert "\n" not in message and "26697\\nforged" in message
    item = dict(all_properties(), ItemType="Audio", ItemId="9c4d\nforged: an ERROR line")
    assert "\n" not in refused(lambda b: jellyfin.webhook_event(b, server="j", at=0.0), item)
    import logging

    from bridge.logs import TextFormatter
    record = logging.LogRecord("bridge.engine", logging.INFO, __file__, 1, "%s: silent", ("plex/home/9\nforged",), None)
    assert TextFormatter().format(record).endswith("bridge.engine: plex/home/9\\nforged: silent")


def test_kodi_times_past_float_range_are_an_unknown_length_not_infinity() -> None:
    huge = dict(PAUSED_AT_40, totaltime={"hours": 1e308, "minutes": 0, "seconds": 0, "milliseconds": 0})
    event = kodi_item((KODI_MOVIE, None, huge))
    assert event.duration == KODI_MOVIE["runtime"] and event.progress < 100  # the library's runtime instead
