"""Every command of the CLI against the Amcrest/Dahua simulators: output, JSON, exit codes,
bad input, and no password anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from camfetch import timeutil
from camfetch.media.jpeg import decode_check
from camfetch.media.mp4 import inspect_mp4
from camfetch.sim.amcrest import AmcrestSimulator
from tests.amcrest.conftest import recording, shown, url
from tests.conftest import PASSWORD


def no_secret(text: str) -> bool:
    return PASSWORD not in text and quote(PASSWORD, safe="") not in text


def run_camfetch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camfetch", *args],
        capture_output=True, text=True, timeout=timeout, env=dict(os.environ),
    )  # fmt: skip


def test_info_text_and_json(cli, modern: AmcrestSimulator):
    result = cli("info", modern.secret_url())
    assert result.exit_code == 0, result.output
    assert "DHI-NVR4208-8P-4KS2" in result.stdout and "CH4" in result.stdout
    assert no_secret(result.output)
    data = json.loads(cli("info", url(modern).replace("amcrest:", "dahua:"), "--json").stdout)
    info = data["info"]
    assert (info["vendor"], info["kind"], info["channel_count"]) == ("Dahua", "nvr", 4)
    assert info["serial"] == modern.serial and info["time_zone"] == "Europe/Berlin"
    assert set(data["capabilities"]) == {"snapshot", "search", "playback", "events", "mjpeg"}
    assert data["device"].startswith("dahua://admin:***@127.0.0.1")


def test_snapshot_default_name_in_a_directory(cli, legacy: AmcrestSimulator, tmp_path: Path):
    result = cli("snapshot", legacy.secret_url(), "-o", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    path = Path(data["path"])
    assert path.parent == tmp_path and path.name.startswith("Porch_ch1_")
    assert decode_check(path.read_bytes()) == (640, 360) and data["width"] == 640


def test_search_json_and_types(cli, modern: AmcrestSimulator):
    args = ["search", modern.secret_url(), "--channel", "CH2", "--from", "-6h", "--to", "now"]
    text = cli(*args)
    assert text.exit_code == 0 and "segments" in text.stdout.splitlines()[-1]
    data = json.loads(cli(*args, "--type", "motion", "--type", "alarm", "--json").stdout)
    assert data["count"] == len(data["segments"]) > 0 and data["channel"] == 2
    assert {s["vendor_kind"] for s in data["segments"]} <= {"VideoMotion", "AlarmLocal"}
    assert all(s["start"].endswith(("+01:00", "+02:00")) for s in data["segments"])


def test_search_with_nothing_recorded_exits_5(cli, legacy: AmcrestSimulator):
    result = cli("search", legacy.secret_url(), "--from", "-40d", "--to", "-39d", "--json")
    assert result.exit_code == 5 and json.loads(result.stdout)["count"] == 0
    assert "nothing recorded" in result.stderr


@pytest.mark.parametrize("method", ["rtsp", "download"])
def test_export_by_each_method(cli, legacy: AmcrestSimulator, tmp_path: Path, method: str):
    rec = recording(legacy, longer=12, shorter=60)
    start = f"{shown(legacy, rec.start + timedelta(seconds=2)):%Y-%m-%d %H:%M:%S}"  # device time
    out = tmp_path / f"{method}.mp4"
    result = cli(
        "export", legacy.secret_url(), "--from", start, "--duration", "6", "-o", str(out),
        "--method", method, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["codec"] == "h264" and abs(data["duration"] - 6) <= 1 and data["complete"]
    assert data["source"].startswith("rtsp://admin:***@" if method == "rtsp" else "http://")
    assert inspect_mp4(out).video is not None
    assert no_secret(result.output) and no_secret(Path(data["manifest"]).read_text())


def test_export_method_must_be_known(cli, legacy: AmcrestSimulator):
    result = cli(
        "export", legacy.secret_url(), "--from", "-1h", "--duration", "5", "--method", "ftp"
    )
    assert result.exit_code == 2


def test_events_one_json_object_per_line(cli, modern: AmcrestSimulator):
    result = cli("events", modern.secret_url(), "--count", "5", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 5 and lines[0]["code"] == "VideoMotion"
    assert {line["channel"] for line in lines} <= {1, 2, 3, 4}
    assert "event stream open" in result.stderr


def test_events_as_text(cli, legacy: AmcrestSimulator):
    result = cli("events", legacy.secret_url(), "--count", "2")
    assert result.exit_code == 0
    assert [line.split()[2:5] for line in result.stdout.splitlines()] == [
        ["ch1", "motion", "start"],
        ["ch1", "motion", "stop"],
    ]


def test_stream_saves_mjpeg_frames(cli, modern: AmcrestSimulator, tmp_path: Path):
    result = cli(
        "stream", modern.secret_url(), "--channel", "3", "-o", str(tmp_path), "--count", "3",
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    files = sorted(tmp_path.glob("Depot_ch3_*.jpg"))
    assert data["frames"] == 3 == len(files)
    assert all(decode_check(f.read_bytes()) == (640, 360) for f in files)


@pytest.mark.parametrize(
    "args",
    [
        ["info", "amcrest://h?bogus=1"],
        ["info", "URL&channel_base=2"],
        ["info", "URL&heartbeat=90"],
        ["info", "URL&stream=third"],
        ["snapshot", "URL", "--channel", "9"],
        ["snapshot", "URL", "--channel", "Garage"],
        ["search", "URL", "--from", "yesterday", "--to", "now"],
        ["export", "URL", "--from", "-1h"],
    ],
)
def test_bad_usage_exits_2(cli, modern: AmcrestSimulator, args: list[str]):
    result = cli(*[a.replace("URL", modern.secret_url()) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_wrong_password_exit_3_once_per_run_and_the_password_appears_nowhere(make_sim, cli):
    sim = make_sim(AmcrestSimulator, profile="modern")
    wrong = "Sekr3t-W#ong"
    address = url(sim).replace(quote(PASSWORD, safe=""), quote(wrong, safe=""))
    for command in (
        ["info", address],
        ["snapshot", address, "-o", "/tmp/none.jpg"],
        ["events", address, "--count", "1"],
    ):
        result = cli(*command)
        assert result.exit_code == 3, result.output
        assert "Traceback" not in result.output and result.stderr.count("\n") == 1
        assert result.stderr.startswith("camfetch: authentication: amcrest://admin:***@127.0.0.1:")
        for text in (result.stdout, result.stderr):
            assert wrong not in text and quote(wrong, safe="") not in text
    assert sim.failed_logins == 3 and not sim.locked  # one attempt per run


def test_unreachable_device_exits_6(cli):
    result = cli("info", "amcrest://admin:nobody-home@127.0.0.1:9?timeout=2")
    assert result.exit_code == 6 and "cannot connect" in result.stderr


def test_sim_command_serves_and_prints_its_url():
    proc = subprocess.Popen(
        [sys.executable, "-m", "camfetch", "sim", "amcrest", "--profile", "legacy",
         "--tz", "Asia/Tokyo", "--channels", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        assert "Amcrest NV4108E-HS NVR with 2 channels, legacy firmware" in lines[0]
        address = lines[1].split("device URL:")[1].strip()
        assert address.startswith("amcrest://admin:") and "tz=Asia/Tokyo" in address
        done = run_camfetch("info", address, "--json")
        info = json.loads(done.stdout)["info"]
        assert info["time_zone"] == "Asia/Tokyo" and info["channel_count"] == 2
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0


@pytest.mark.parametrize("bad", [["--profile", "ancient"], ["--search-end", "maybe"]])
def test_sim_command_rejects_unknown_choices(cli, bad: list[str]):
    result = cli("sim", "amcrest", *bad)
    assert result.exit_code == 2


def test_export_before_now_from_a_relative_time(cli, modern: AmcrestSimulator, tmp_path: Path):
    now = timeutil.utcnow()
    rec = recording(modern, longer=200)
    minutes = int((now - rec.start).total_seconds() // 60) - 1
    result = cli(
        "export", modern.secret_url(), "--from", f"-{minutes}m", "--duration", "4", "-o",
        str(tmp_path), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert Path(data["path"]).parent == tmp_path and Path(data["path"]).name.startswith("Depot_")
