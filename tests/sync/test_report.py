"""The last sync's matching report where a person and a monitor look: `simkl-bridge status` (a
count per account and reason, the first items, the file for the rest), the status page, /metrics."""

from __future__ import annotations

import json
import re

import requests

from bridge.cli import main
from bridge.sync.service import REPORT_FILE
from tests.conftest import SECRET
from tests.test_health import metrics

LOOSE = "alice\tkodi/lounge\tmovie\tholiday.mp4\tmovie:3\tno usable id\n"


def config(tmp_path) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(f"state_dir: {tmp_path}/state\nsimkl: {{client_id: emulator-client}}\naccounts: {{alice: {{}}, bob: {{}}}}\n"
                    "users: [{user: alice, account: alice}]\nkodi: [{name: lounge, http_port: null}]\n")
    (tmp_path / "state").mkdir(mode=0o700, exist_ok=True)
    return str(path)


def report(tmp_path, text: str) -> str:
    path = tmp_path / "state" / REPORT_FILE
    path.write_text(text)
    return str(path)


def test_status_counts_what_the_last_sync_could_not_match_and_names_the_file(tmp_path, capsys) -> None:
    path = config(tmp_path)
    loose = [f"alice\tkodi/lounge\tmovie\tclip {n}.mp4\tmovie:{n}\tno usable id\n" for n in range(11)]
    written = report(tmp_path, "bob\tplex/home\tepisode\tA\tTitle\twith tabs\tepisode:9\tno usable id\n" + "".join(loose)
                     + "alice\tkodi/lounge\tmovie\tGone\nWith a line break\tmovie:12\tnot found on Simkl\n")
    assert main(["status", "-c", path]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\nlast library sync \d{4}-\d\d-\d\dT[\d:]+Z \(\d+ s ago\): 14 item\(s\) could not be matched\n"
                     r"  \?: 2 a line of the report not understood\n  alice: 11 no usable id\n  bob: 1 no usable id\n", out)
    # The first ten, each on one line whatever its title holds; the file for the rest.
    assert "    bob plex/home episode A\\tTitle\\twith tabs (episode:9): no usable id\n" in out
    assert "    alice kodi/lounge movie clip 8.mp4 (movie:8): no usable id\n" in out and "clip 9.mp4" not in out
    assert f"    … and 4 more in {written}\n" in out
    assert main(["status", "--json", "-c", path]) == 0
    unmatched = json.loads(capsys.readouterr().out)["unmatched"]
    assert unmatched["items"] == 14 and unmatched["path"] == written and len(unmatched["first"]) == 10
    assert unmatched["first"][0] == {"account": "bob", "server": "plex/home", "kind": "episode", "title": "A\tTitle\twith tabs",
                                     "ref": "episode:9", "reason": "no usable id"}
    assert {"account": "alice", "reason": "no usable id", "items": 11} in unmatched["counts"]


def test_status_says_a_sync_matched_everything_or_says_nothing_before_any_sync(tmp_path, capsys) -> None:
    path = config(tmp_path)
    assert main(["status", "-c", path]) == 0
    assert "library sync" not in capsys.readouterr().out
    report(tmp_path, "")
    assert main(["status", "-c", path]) == 0
    assert re.search(r"\nlast library sync \S+Z \(\d+ s ago\): every item was matched\n", capsys.readouterr().out)
    report(tmp_path, LOOSE)
    assert main(["status", "-c", path]) == 0
    out = capsys.readouterr().out
    assert "1 item(s) could not be matched\n  alice: 1 no usable id\n" in out
    assert f"    alice kodi/lounge movie holiday.mp4 (movie:3): no usable id\n  (listed in {tmp_path}/state/" in out


def test_the_status_page_and_metrics_show_the_matching_report(emulator, bridge_for) -> None:
    bridge = bridge_for()
    bridge.http.start()
    assert metrics(bridge).get(("simkl_bridge_sync_unmatched_items", (("account", "alice"), ("reason", "no usable id")))) is None
    (bridge.config.state_dir / REPORT_FILE).write_text(LOOSE * 2 + LOOSE.replace("alice", "bob"))
    m = metrics(bridge)
    assert m[("simkl_bridge_sync_unmatched_items", (("account", "alice"), ("reason", "no usable id")))] == 2
    assert m[("simkl_bridge_sync_unmatched_items", (("account", "bob"), ("reason", "no usable id")))] == 1
    browser = requests.Session()
    page = browser.post(f"{bridge.http.url}/login", data={"secret": SECRET}, timeout=5).text  # the page, logged in
    assert "The last sync (" in page and ") could not match 3 item(s). They are listed in" in page
    assert "<td>holiday.mp4</td><td>movie:3</td><td>no usable id</td>" in page
    (bridge.config.state_dir / REPORT_FILE).write_text("")
    assert "matched every item" in browser.get(f"{bridge.http.url}/", timeout=5).text
    assert not [k for k in metrics(bridge) if k[0] == "simkl_bridge_sync_unmatched_items"]
