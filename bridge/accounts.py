"""Who is whom: a media-server user -> the Simkl account their plays belong to.

Fail-closed: a play by a user no rule names goes nowhere, unless the household opted in to a
catch-all account. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from bridge.config import UserRule


class AccountMap:
    def __init__(self, users: Iterable[UserRule], catch_all: str | None = None):
        self.rules = list(users)
        self.catch_all = catch_all

    def resolve(self, source: str, server: str, user: str) -> str | None:
        for rule in self.rules:
            if _matches(rule.source, source) and _matches(rule.server, server) and _user_matches(rule.user, user):
                return rule.account
        return self.catch_all


def _matches(pattern: str, value: str) -> bool:
    return pattern == "*" or pattern.casefold() == value.casefold()


def _user_matches(pattern: str, user: str) -> bool:
    # An unknown (empty) user only matches a rule that is explicitly for everyone.
    if not user:
        return pattern == "*"
    return _matches(pattern, user)
