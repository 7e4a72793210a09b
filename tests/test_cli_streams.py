"""events, stream and channel names, through the CLI, on a driver without a wire protocol."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from camfetch import drivers
from camfetch.media.jpeg import decode_check


@pytest.fixture(autouse=True)
def fake_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(drivers.BUILTIN, "fake", "tests.fake_driver:FakeDevice")


def test_events_json_lines(cli):
    result = cli("events", "fake://cam", "--count", "3", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["code"] for e in lines] == ["VideoMotion", "VideoMotion", "CrossLineDetection"]
    assert [e["action"] for e in lines] == ["start", "stop", "start"]
    assert set(lines[0]) == {"time", "code", "kind", "action", "channel", "data"}
    assert "event stream open" in result.stderr


def test_events_text_until_duration(cli):
    result = cli("events", "fake://cam", "--duration", "0.5")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 3 and "ch1" in result.stdout


def test_stream_saves_frames(cli, tmp_path: Path):
    result = cli(
        "stream", "fake://cam", "--channel", "Yard", "-o", str(tmp_path), "--count", "5", "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["frames"] == 5 and data["channel"] == 2
    files = sorted(tmp_path.glob("Fake_Cam_ch2_*.jpg"))
    assert len(files) == 5 and all(decode_check(f.read_bytes()) == (64, 48) for f in files)


def test_stream_for_a_duration(cli, tmp_path: Path):
    result = cli("stream", "fake://cam", "-o", str(tmp_path), "--duration", "0.6", "--fps", "20")
    assert result.exit_code == 0 and result.stdout.strip() == str(tmp_path)
    assert 3 <= len(list(tmp_path.glob("*.jpg"))) <= 15


def test_channel_by_title_and_unknown_name(cli, tmp_path: Path):
    out = tmp_path / "gate.jpg"
    assert cli("snapshot", "fake://cam", "--channel", "front GATE", "-o", str(out)).exit_code == 0
    result = cli("snapshot", "fake://cam", "--channel", "Garage")
    assert result.exit_code == 2 and "no channel named 'Garage'" in result.stderr
    assert "1 'Gate'" in result.stderr


def test_snapshot_size_on_a_device_without_sizes(cli):
    result = cli("snapshot", "fake://cam", "--size", "640x480")
    assert result.exit_code == 8 and "picture size" in result.stderr
    assert cli("snapshot", "fake://cam", "--size", "huge").exit_code == 2


def test_unsupported_commands_say_so(cli, nvr):
    assert cli("events", nvr.secret_url()).exit_code == 8
    assert cli("stream", nvr.secret_url(), "-o", "/tmp/x").exit_code == 8
