"""The YAML config: every mistake names its key and line; the example stays in sync with the schema."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from bridge.config import (
    AccountSettings,
    Config,
    ConfigError,
    EngineSettings,
    HttpSettings,
    JellyfinServer,
    KodiHost,
    OutboxSettings,
    PlexServer,
    SimklSettings,
    UserRule,
    default_config,
    load,
    parse,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.yaml"
MINIMAL = """\
simkl:
  client_id: abc
accounts:
  alice: {}
"""


def error(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        parse(text, "config.yaml")
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_minimal_file_gets_the_defaults() -> None:
    c = parse(MINIMAL)
    assert c.simkl.api_url == "https://api.simkl.com" and c.engine.watched_threshold == 80
    assert c.engine.session_timeout == 1800 and c.outbox.batch_size == 500 and c.http is None
    assert c.users == () and c.catch_all is None and c.state_dir.name == "simkl-bridge"


@pytest.mark.parametrize(("text", "expected"), [
    (MINIMAL.replace("client_id: abc", "client_id: [1]"), "config.yaml:2: simkl.client_id: expected a string, got list"),
    (MINIMAL + "engine:\n  watched_threshold: 150\n", "config.yaml:6: engine.watched_threshold: must be between 1 and 100, got 150"),
    (MINIMAL + "engine:\n  treshold: 3\n", "config.yaml:6: engine.treshold: unknown key (did you mean 'watched_threshold'?)"),
    (MINIMAL.replace("simkl:\n  client_id: abc\n", ""), "config.yaml: simkl: missing (required)"),
    (MINIMAL + "users:\n  - {user: x, account: carol}\n", "config.yaml:6: users[0].account: 'carol' is not one of the accounts (alice)"),
    (MINIMAL.replace("client_id: abc", "client_id: ${SURELY_NOT_SET_VAR}"),
     "config.yaml:2: simkl.client_id: environment variable SURELY_NOT_SET_VAR is not set"),
    (MINIMAL + "plex:\n  - name: a\n    url: ftp://x\n    token: t\n", "config.yaml:7: plex[0].url: must be an http(s) URL, got 'ftp://x'"),
    (MINIMAL + "kodi:\n  - name: a\n    port: nine\n", "config.yaml:7: kodi[0].port: expected an integer, got string"),
    (MINIMAL + "kodi:\n  - name: a\n  - name: a\n", "config.yaml:7: kodi[1].name: 'a' is already the name of a kodi server"),
    (MINIMAL + "http:\n  secret: short\n", "config.yaml:6: http.secret: must be at least 16 characters"),
    (MINIMAL + "catch_all: zed\n", "config.yaml:5: catch_all: 'zed' is not one of the accounts (alice)"),
    (MINIMAL + "engine:\n  send_start: 1\n", "config.yaml:6: engine.send_start: expected true or false, got int"),
    ("simkl: [\n", "config.yaml:2: not valid YAML"),
    ("", "config.yaml: the file is empty"),
    ("- 1\n", "config.yaml:1: config: expected a mapping, got list"),
    (MINIMAL.replace("alice: {}", "alice: {tokenenv: X}"), "config.yaml:4: accounts.alice.tokenenv: unknown key (did you mean 'token_env'?)"),
    (MINIMAL.replace("alice: {}", "bad name: {}"), "config.yaml:4: accounts.bad name: account names use letters, digits, '-', '_' or '.'"),
    (MINIMAL.replace("accounts:\n  alice: {}", "accounts: {}"), "config.yaml:3: accounts: expected a mapping with at least one account"),
    (MINIMAL + "kodi:\n  - name: a\n    http_port: x\n", "config.yaml:7: kodi[0].http_port: expected an integer or null, got string"),
    (MINIMAL + "plex:\n  - {name: a, url: 'http://x', token: t, exclude_libraries: [1, 1.5]}\n",
     "config.yaml:6: plex[0].exclude_libraries[1]: expected a string or an integer, got float"),
    (MINIMAL + "users:\n  - {account: alice, source: tv}\n", "config.yaml:6: users[0].source: must be one of *, plex, jellyfin, kodi, event, got 'tv'"),
    (MINIMAL + "plex:\n  - {name: a, url: 'http://x'}\n", "config.yaml: plex[0].token: missing (required)"),
    (MINIMAL + "users:\n  - {source: plex, server: home, account: alice}\n",
     "config.yaml:6: users[0].server: 'home' is not a configured plex server (configured: none)"),
    (MINIMAL + "kodi: [{name: lr}]\nplex: [{name: home, url: 'http://x', token: t}]\nusers:\n  - {server: hme, account: alice}\n",
     "config.yaml:8: users[0].server: 'hme' is not a configured server (configured: plex 'home', kodi 'lr')"),
    (MINIMAL + "http:\n  secret: change-me-to-a-long-random-string\n",
     "config.yaml:6: http.secret: is still the example's placeholder: set BRIDGE_SECRET or write your own"),
    (MINIMAL + "kodi: [{name: lr, enabled: 'no'}]\n", "config.yaml:5: kodi[0].enabled: expected true or false, got string"),
    (MINIMAL + "jellyfin:\n  - {name: a, url: 'http://jf:8096', api_key: k, user: alice, lists: [plantowatch]}\n"
     "  - {name: b, url: 'http://JF:8096/', api_key: k, user: bob, lists: [plantowatch]}\n",
     "config.yaml:7: jellyfin[1].lists: 'a' already mirrors Simkl lists on this server (http://JF:8096/), and its "
     "collections are everyone's"),
    # one entry mirroring and the other not, or two servers: fine
    (MINIMAL + "plex:\n  - {name: a, url: 'http://x', token: t, lists: [plantowatch]}\n"
     "  - {name: b, url: 'http://x', token: u}\n  - {name: c, url: 'http://y', token: t, lists: [dropped]}\n"
     "users:\n  - {account: nobody}\n", "config.yaml:10: users[0].account: 'nobody' is not one of the accounts"),
])
def test_errors_name_the_key_and_line(text: str, expected: str) -> None:
    assert error(text).startswith(expected)


def test_a_section_with_nothing_under_it_has_its_defaults() -> None:
    c = parse(MINIMAL + "engine:\noutbox:\nusers:\nplex:\nhttp:\n")
    assert c.engine.watched_threshold == 80 and c.outbox.batch_size == 500 and c.users == () and c.plex == () and c.http is None


def test_environment_substitution(monkeypatch) -> None:
    monkeypatch.setenv("MY_CLIENT", "from-env")
    c = parse(MINIMAL.replace("abc", "${MY_CLIENT}") + "http:\n  secret: ${NOT_SET_SECRET:-a-default-secret-1234}\n")
    assert c.simkl.client_id == "from-env" and c.http is not None and c.http.secret == "a-default-secret-1234"


def test_a_rule_may_name_a_server_of_its_kind_in_any_case_or_the_kodi_addons_with_http_on() -> None:
    servers = "plex: [{name: Home, url: 'http://x', token: t}]\n"
    rules = "users:\n  - {source: plex, server: home, account: alice}\n  - {source: kodi, server: bedroom, account: alice}\n"
    assert parse(MINIMAL + servers + rules + "http: {secret: a-secret-of-24-characters}\n").users[1].server == "bedroom"
    # without the endpoint nothing can post as the addon's "bedroom"
    assert "users[1].server: 'bedroom' is not a configured kodi server" in error(MINIMAL + servers + rules)


def test_the_example_refuses_its_placeholder_secret(monkeypatch) -> None:
    monkeypatch.setenv("SIMKL_CLIENT_ID", "cid")
    monkeypatch.delenv("BRIDGE_SECRET", raising=False)
    with pytest.raises(ConfigError, match=r"http\.secret: is still the example.s placeholder"):
        load(EXAMPLE)


def test_the_example_parses_and_covers_every_key(monkeypatch) -> None:
    monkeypatch.setenv("SIMKL_CLIENT_ID", "cid")
    monkeypatch.setenv("BRIDGE_SECRET", "a-secret-of-24-characters")
    config = load(EXAMPLE)
    assert isinstance(config, Config) and set(config.accounts) == {"alice", "bob"}
    assert [s.name for s in config.plex] == ["home"] and config.kodi[0].port == 9090
    data = yaml.safe_load(EXAMPLE.read_text())
    sample = {"": data, "simkl": data["simkl"], "engine": data["engine"], "outbox": data["outbox"], "http": data["http"],
              "account": data["accounts"]["bob"], "users[]": {k: v for u in data["users"] for k, v in u.items()},
              "plex[]": data["plex"][0], "jellyfin[]": data["jellyfin"][0], "kodi[]": data["kodi"][0]}
    sections = {"": Config, "simkl": SimklSettings, "engine": EngineSettings, "outbox": OutboxSettings, "http": HttpSettings,
                "account": AccountSettings, "users[]": UserRule, "plex[]": PlexServer, "jellyfin[]": JellyfinServer, "kodi[]": KodiHost}
    for section, declared in sections.items():
        missing = {f.name for f in dataclasses.fields(declared)} - set(sample[section])
        assert not missing, f"config.example.yaml does not show {section or 'top-level'} keys {sorted(missing)}"


def test_default_config_sends_everything_to_one_account(tmp_path) -> None:
    c = default_config(tmp_path, "http://127.0.0.1:1", "cid")
    assert list(c.accounts) == ["demo"] and c.users[0].account == "demo" and c.users[0].user == "*"
