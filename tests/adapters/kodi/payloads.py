"""Kodi 20's JSON-RPC results, shaped like what it really returns (see shared/kodi-headless.md §6)."""

from __future__ import annotations

MOVIE = {"episode": -1, "file": "/media/movies/TheMatrix/The.Matrix.1999.mp4", "id": 1, "imdbnumber": "603",
         "label": "The Matrix", "runtime": 8160, "season": -1, "showtitle": "", "title": "The Matrix", "tvshowid": -1,
         "type": "movie", "uniqueid": {"tmdb": "603"}, "year": 1999}
EPISODE = {"episode": 2, "file": "/media/tv/Show/Season 01/Show.S01E02.mkv", "id": 7, "imdbnumber": "349232",
           "label": "Second Episode", "runtime": 2880, "season": 1, "showtitle": "Test Show", "title": "Second Episode",
           "tvshowid": 1, "type": "episode", "uniqueid": {"imdb": "tt1054724", "tmdb": "62086", "tvdb": "349232"}, "year": 1970}
SHOW = {"imdbnumber": "81189", "label": "Test Show", "title": "Test Show", "tvshowid": 1, "year": 2008,
        "uniqueid": {"imdb": "tt0903747", "tmdb": "1396", "tvdb": "81189"}}
LOOSE = {"episode": -1, "file": "/media/loose/direct.mp4", "imdbnumber": "", "label": "direct.mp4", "runtime": 0,
         "season": -1, "showtitle": "", "title": "", "tvshowid": -1, "type": "unknown", "year": 0}
PAUSED_AT_40 = {"percentage": 40.0, "speed": 0, "time": {"hours": 0, "minutes": 19, "seconds": 12, "milliseconds": 0},
                "totaltime": {"hours": 0, "minutes": 48, "seconds": 0, "milliseconds": 0}}
