"""A household: each person's plays land on their own Simkl account, nobody else's."""

from __future__ import annotations

from bridge.accounts import AccountMap
from bridge.config import UserRule

RULES = [UserRule("alice", user="Alice", source="plex", server="home"), UserRule("bob", user="bob"),
         UserRule("alice", user="*", source="kodi", server="living-room")]


def test_each_person_maps_to_their_account() -> None:
    m = AccountMap(RULES)
    assert m.resolve("plex", "home", "alice") == "alice"  # case-insensitive
    assert m.resolve("jellyfin", "jf", "Bob") == "bob"
    assert m.resolve("kodi", "living-room", "") == "alice"  # an explicit everyone-rule


def test_unknown_users_map_to_nobody_unless_a_catch_all_is_chosen() -> None:
    assert AccountMap(RULES).resolve("plex", "home", "guest") is None
    assert AccountMap(RULES).resolve("plex", "other-server", "alice") is None
    assert AccountMap(RULES, catch_all="family").resolve("plex", "home", "guest") == "family"


def test_an_unknown_user_name_never_matches_a_named_rule() -> None:
    assert AccountMap([UserRule("bob", user="bob")]).resolve("plex", "home", "") is None


def test_first_matching_rule_wins() -> None:
    m = AccountMap([UserRule("bob", user="alice", source="jellyfin"), UserRule("alice", user="alice")])
    assert m.resolve("jellyfin", "jf", "alice") == "bob" and m.resolve("plex", "x", "alice") == "alice"
