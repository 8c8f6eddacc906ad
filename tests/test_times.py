"""Every time format read or written: Simkl's, Jellyfin's, Kodi's local time."""

from __future__ import annotations

import calendar

import pytest

from bridge.times import TICKS_PER_SECOND, iso, iso_ms, parse_iso, parse_local, seconds_to_ticks, ticks_to_seconds


def test_time_round_trip() -> None:
    assert iso(1426433411) == "2015-03-15T15:30:11Z"
    assert parse_iso("2015-03-15T15:30:11Z") == 1426433411
    assert parse_iso("2024-01-15T10:30:00.000Z") == parse_iso("2024-01-15T10:30:00Z")
    assert parse_iso(iso_ms(1426433411.25)) == 1426433411.25


@pytest.mark.parametrize("text,expected", [
    ("2024-05-01T20:15:03.1234567Z", 1714594503.123456),
    ("2024-05-01T20:15:03Z", 1714594503.0),
    ("2024-05-01T20:15:03", 1714594503.0),
    ("2024-05-01T22:15:03+02:00", 1714594503.0),
    ("2024-02-30T00:00:00Z", None),
    ("yesterday", None), (None, None), (17, None), ("２０２４-05-01T20:15:03Z", None),
])
def test_iso_dates_of_every_precision_and_zone(text, expected) -> None:
    assert parse_iso(text) == (pytest.approx(expected) if expected else None)


def test_jellyfin_ticks() -> None:
    assert TICKS_PER_SECOND == 10_000_000
    assert ticks_to_seconds(seconds_to_ticks(1.5)) == 1.5


def test_kodi_local_time_in_kodis_own_zone() -> None:
    noon_utc = calendar.timegm((2026, 11, 20, 12, 0, 0))
    assert parse_local("2026-11-20 13:00:00", 3600.0) == noon_utc
    assert parse_local("", 0.0) is None and parse_local("never", 0.0) is None and parse_local(None, 0.0) is None
