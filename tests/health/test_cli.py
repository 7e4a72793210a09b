"""``camfetch health``: a table or JSON, exit 0 when every camera is ok and 10 otherwise."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from camfetch.errors import EXIT_CODES
from camfetch.sim.viewtron import ViewtronSimulator
from tests.conftest import PASSWORD, SimLoop
from tests.health.conftest import SIZE

ENV = {"HEALTH_PW": PASSWORD}


def no_secret(text: str) -> bool:
    return PASSWORD not in text and quote(PASSWORD, safe="") not in text


def bare_url(sim: ViewtronSimulator) -> str:
    """The device's URL without its password (the config gives it from the environment)."""
    return f"viewtron://admin@127.0.0.1:{sim.port}?tz=Europe/Berlin"


def write_config(path: Path, devices: list[dict[str, Any]], health: str = "") -> Path:
    lines = ["devices:"]
    for device in devices:
        lines.append(f"  - name: {device['name']}")
        lines.append(f"    url: {json.dumps(device['url'])}")
        lines.append("    password: ${HEALTH_PW}")
        for key in ("expected_size", "channels"):
            if key in device:
                lines.append(f"    {key}: {json.dumps(device[key])}")
    if health:
        lines += ["jobs:", "  - name: health", "    type: health", "    thresholds:"]
        lines += [f"      {line}" for line in health.strip().splitlines()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_exit_code_10_is_documented():
    assert "not ok" in EXIT_CODES[10]
    cli_doc = Path(__file__).parents[2] / "docs" / "cli.md"
    assert "| 10 | not-ok |" in cli_doc.read_text(encoding="utf-8")


def test_one_device_url_all_ok(cli: Callable[..., Any], door: ViewtronSimulator):
    result = cli("health", door.secret_url(), "--samples", "1")
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()[:2]
    assert header.split() == ["device", "channel", "status", "reason", "latency", "size", "luma",
                              "skew"]  # fmt: skip
    assert row.split()[:4] == ["127.0.0.1", "1", "ok", "ok"] and "640x360" in row
    assert "1 channel: 1 ok, 0 degraded, 0 offline" in result.stdout
    assert "frozen picture shows only after 3" in result.stderr  # one sample cannot see it
    assert no_secret(result.output)


def test_a_config_with_several_devices(
    cli: Callable[..., Any],
    yard: ViewtronSimulator,
    door: ViewtronSimulator,
    make_sim: Callable[..., Any],
    sim_loop: SimLoop,
    tmp_path: Path,
):
    gone: ViewtronSimulator = make_sim(api="2.0", kind="ipc", name="Gone", size=SIZE)
    sim_loop.call(gone.go_offline())
    yard.set_picture("black", 2)
    config = write_config(
        tmp_path / "fleet.yaml",
        [
            {"name": "yard", "url": bare_url(yard)},
            {"name": "door", "url": bare_url(door), "expected_size": "1920x1080"},
            {"name": "gone", "url": bare_url(gone)},
        ],
        health="frozen_checks: 5\nlatency: 4s",
    )
    result = cli("health", str(config), "--json", "--samples", "1", env=ENV)
    assert result.exit_code == 10, result.output
    data = json.loads(result.stdout)
    assert data["config"] == str(config) and data["ok"] is False
    assert data["counts"] == {"ok": 1, "degraded": 2, "offline": 1}
    rows = {(r["device"], r["channel"]): r for r in data["channels"]}
    assert list(rows) == [("yard", 1), ("yard", 2), ("door", 1), ("gone", None)]
    assert rows[("yard", 1)]["status"] == "ok" and rows[("yard", 1)]["width"] == SIZE[0]
    assert rows[("yard", 2)]["reason"] == "black" and rows[("yard", 2)]["luma"] < 16
    assert rows[("door", 1)]["reason"] == "resolution"
    assert rows[("gone", None)]["status"] == "offline"
    assert rows[("gone", None)]["reason"] == "unreachable"
    assert all(r["url"].startswith("viewtron://admin:***@127.0.0.1:") for r in data["channels"])
    assert "frozen picture shows only after 5" in result.stderr  # the config's threshold
    assert no_secret(result.output)


def test_the_table_names_what_is_wrong(
    cli: Callable[..., Any], yard: ViewtronSimulator, sim_loop: SimLoop
):
    sim_loop.call(yard.set_condition(skew=-600))
    result = cli("health", yard.secret_url(), "--samples", "1")
    assert result.exit_code == 10, result.output
    assert "127.0.0.1:1: clock_skew: device clock -600 s off (limit 30 s)" in result.stdout
    assert "2 channels: 0 ok, 2 degraded, 0 offline" in result.stdout
    assert no_secret(result.output)


def test_frozen_is_seen_with_as_many_samples_as_the_config_asks(
    cli: Callable[..., Any], door: ViewtronSimulator, tmp_path: Path
):
    door.set_picture("frozen")
    config = write_config(
        tmp_path / "door.yaml", [{"name": "door", "url": bare_url(door)}], "frozen_checks: 2"
    )
    result = cli("health", str(config), "--json", env=ENV)
    assert result.exit_code == 10, result.output
    (row,) = json.loads(result.stdout)["channels"]
    assert row["reason"] == "frozen" and row["detail"] == "the same picture 2 checks in a row"


def test_camfetch_yaml_in_the_working_directory_is_the_default(
    cli: Callable[..., Any],
    door: ViewtronSimulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    write_config(tmp_path / "camfetch.yaml", [{"name": "door", "url": bare_url(door)}])
    monkeypatch.chdir(tmp_path)
    result = cli("health", "--samples", "1", env=ENV)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].split()[:3] == ["door", "1", "ok"]


def test_without_a_config_it_is_a_usage_error(
    cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    result = cli("health")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "camfetch: usage: no CONFIG or DEVICE given and there is no camfetch.yaml in this directory"
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("devices:\n  - name: x\n", encoding="utf-8")
    result = cli("health", str(broken))
    assert result.exit_code == 2 and "devices[0].url" in result.stderr
