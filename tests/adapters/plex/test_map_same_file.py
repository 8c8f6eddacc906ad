"""A multi-episode file on Plex: which episodes of a season share the played episode's file.

Plex lists an `S03E10-E11` file as two episode items of the season whose Media parts name the same
file; the season's `/children` response shows every episode with its parts.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from bridge.adapters.plex.map import map_metadata, metadata_from_xml, same_file_episodes
from bridge.cli import main

DOUBLE = "/tv/The Office (US)/Season 03/The Office (US) - S03E10-E11 - A Benihana Christmas.mkv"
SINGLE = "/tv/The Office (US)/Season 03/The Office (US) - S03E12 - Back from Vacation.mkv"


def media(*files: str) -> list[dict]:
    """One Media per version, one Part each (the JSON form of /library/metadata)."""
    return [{"id": 100 + i, "Part": [{"id": 200 + i, "key": f"/library/parts/{200 + i}/1/file.mkv", "file": f}]}
            for i, f in enumerate(files)]


def episode(key: str, index: int, *files: str, season: int = 3, **extra) -> dict:
    meta = {"ratingKey": key, "type": "episode", "title": f"episode {index}", "guid": f"plex://episode/{key}",
            "Guid": [{"id": f"tvdb://{key}"}], "parentRatingKey": "530", "parentIndex": season, "index": index,
            "grandparentRatingKey": "500", **extra}
    if files:
        meta["Media"] = media(*files)
    return meta


SEASON = [episode("540", 10, DOUBLE), episode("541", 11, DOUBLE), episode("542", 12, SINGLE)]


def test_the_episodes_sharing_the_played_file_are_all_in_it() -> None:
    assert same_file_episodes(episode("541", 11, DOUBLE), SEASON) == (10, 11)
    assert same_file_episodes(episode("542", 12, SINGLE), SEASON) == (12,)


def test_an_item_without_media_is_found_by_its_own_entry_in_the_season() -> None:
    # Webhook Metadata carries no Media: the season's listing of the played item does.
    assert same_file_episodes(episode("540", 10), SEASON) == (10, 11)


def test_without_any_file_to_compare_nothing_is_claimed() -> None:
    assert same_file_episodes(episode("540", 10), [e for e in SEASON if e["ratingKey"] != "540"]) == ()
    assert same_file_episodes(episode("540", 10), [{k: v for k, v in e.items() if k != "Media"} for e in SEASON]) == ()
    assert same_file_episodes(episode("540", 10, DOUBLE), "not a list") == ()
    assert same_file_episodes(episode("540", 10, DOUBLE), []) == (10,)


def test_a_played_item_with_another_version_does_not_claim_the_shared_one() -> None:
    # E10 exists as the double file and as a file of its own: which one was played is not known here.
    played = episode("540", 10, DOUBLE, "/tv/other/S03E10.mkv")
    assert same_file_episodes(played, [played, episode("541", 11, DOUBLE)]) == (10,)
    # ... while an episode with every file of the played one (plus a version of its own) is in it.
    assert same_file_episodes(episode("541", 11, DOUBLE), [episode("540", 10, DOUBLE, "/x.mkv")]) == (10, 11)


def test_an_episode_of_another_season_or_garbage_is_left_out() -> None:
    children = [episode("540", 10, DOUBLE), episode("999", 1, DOUBLE, season=4), episode("998", 0, DOUBLE),
                {"type": "episode", "Media": "nope"}, "junk", {**episode("997", 13, DOUBLE), "type": "clip"}]
    assert same_file_episodes(episode("541", 11, DOUBLE), children) == (10, 11)


def test_legacy_episode_guids_number_the_others_as_they_number_the_played_one() -> None:
    def legacy(key: str, number: int) -> dict:
        return episode(key, number + 100, DOUBLE, guid=f"com.plexapp.agents.thetvdb://73244/3/{number}?lang=en", Guid=[])
    assert same_file_episodes(legacy("540", 10), [legacy("540", 10), legacy("541", 11)]) == (10, 11)


def test_the_season_listing_as_xml_carries_the_parts() -> None:
    xml = ET.fromstring(
        '<Video ratingKey="541" type="episode" parentIndex="3" index="11" guid="plex://episode/541">'
        f'<Media id="7" duration="2520000"><Part id="8" key="/library/parts/8/1/file.mkv" file="{DOUBLE}"/></Media>'
        '<Guid id="tvdb://541"/></Video>')
    item = metadata_from_xml(xml)
    assert item["Media"] == [{"Part": [{"id": "8", "key": "/library/parts/8/1/file.mkv", "file": DOUBLE}]}]
    assert same_file_episodes(item, SEASON) == (10, 11)


OFFICE = {"ratingKey": "500", "type": "show", "title": "The Office", "year": 2005,
          "guid": "plex://show/5d9c086c46115600200aa2fe", "Guid": [{"id": "tvdb://73244"}]}


def test_map_plex_metadata_marks_every_episode_of_an_inlined_season(tmp_path, capsys) -> None:
    played = {**episode("540", 10, DOUBLE), "grandparent": OFFICE, "duration": 2520000}
    path = tmp_path / "540.json"
    path.write_text(json.dumps({**played, "season": {"Metadata": SEASON}}))
    assert main(["map", "--from", "plex-metadata", str(path)]) == 0
    history = json.loads(capsys.readouterr().out)["history"]
    assert history["shows"][0]["seasons"] == [{"number": 3, "episodes": [{"number": 10}, {"number": 11}]}]
    # Without the season's children the metadata alone cannot tell: the one episode.
    assert map_metadata(json.dumps(played).encode()).episodes == (10,)
