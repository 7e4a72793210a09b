"""The command line on simulated 2N intercoms: output, JSON, error lines and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from camfetch.media.jpeg import decode_check
from camfetch.sim.two_n import DOCUMENTED_SIZES, TwoNSimulator
from tests.conftest import PASSWORD
from tests.two_n.conftest import VIEWER, as_user, wrong_password


@pytest.fixture(autouse=True)
def own_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each command starts with no remembered secrets, as a process of its own does
    (a short password remembered by an earlier test would mask letters of this one's output)."""
    monkeypatch.setattr("camfetch.cli.output.SECRETS", [])


def no_secret(text: str) -> bool:
    return PASSWORD not in text and quote(PASSWORD, safe="") not in text


def test_info_text_and_json(cli, intercom: TwoNSimulator):
    result = cli("info", intercom.secret_url())
    assert result.exit_code == 0, result.output
    assert "2N IP Verso" in result.stdout and "intercom" in result.stdout
    assert "internal" in result.stdout and "external" in result.stdout
    assert no_secret(result.output)
    data = json.loads(cli("info", intercom.secret_url(), "--json").stdout)
    assert data["info"]["vendor"] == "2N" and data["info"]["kind"] == "intercom"
    assert data["info"]["time_zone"] == "Europe/Prague"
    assert [(c["number"], c["name"]) for c in data["channels"]] == [
        (1, "internal"),
        (2, "external"),
    ]
    assert data["capabilities"] == ["events", "mjpeg", "snapshot", "snapshot_at", "snapshot_size"]
    assert data["device"].startswith("2n://admin:***@127.0.0.1:")


def test_snapshot_of_a_source_by_name_at_the_closest_size(cli, intercom, tmp_path: Path):
    out = tmp_path / "gate.jpg"
    result = cli(
        "snapshot", intercom.secret_url(), "--channel", "external", "--size", "800x600",
        "-o", str(out), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["channel"], data["width"], data["height"]) == (2, 640, 480)
    assert decode_check(out.read_bytes()) == (640, 480)
    text = cli("snapshot", intercom.secret_url(), "-c", "2", "--size", "800x600", "-o", str(out))
    assert text.exit_code == 0 and text.stdout.strip() == str(out)
    assert "the device offers no 800x600; took the closest, 640x480" in text.stderr


def test_snapshot_default_name_in_a_directory(cli, intercom, tmp_path: Path):
    result = cli("snapshot", intercom.secret_url(), "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip())
    assert path.parent == tmp_path and path.name.startswith("Front_Gate_ch1_")
    assert decode_check(path.read_bytes()) == (1920, 1080)


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_snapshot_at_a_moment_of_the_last_30_seconds(cli, intercom, tmp_path: Path, https: bool):
    out = tmp_path / "past.jpg"
    url = intercom.secret_url(https=https)
    result = cli("snapshot", url, "--at", "-12s", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["source"] == "archive" and (data["width"], data["height"]) == (1280, 960)
    assert data["device_time"].endswith(("+01:00", "+02:00"))  # Prague, the device's zone
    assert decode_check(out.read_bytes()) == (1280, 960)


def test_stream_saves_the_push_stream(cli, intercom, tmp_path: Path):
    result = cli(
        "stream", intercom.secret_url() + "?size=320x240", "--channel", "internal",
        "-o", str(tmp_path), "--count", "5", "--fps", "10", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    files = sorted(tmp_path.glob("Front_Gate_ch1_*.jpg"))
    assert data["frames"] == 5 and len(files) == 5
    assert all(decode_check(f.read_bytes()) == (320, 240) for f in files)


def test_events_print_the_log(cli, make_2n):
    sim = make_2n(event_interval=0.2, seed="events on the command line")
    result = cli("events", sim.secret_url(), "--count", "3", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3 and all(e["kind"] != "other" for e in lines)
    assert set(lines[0]) == {"time", "code", "kind", "action", "channel", "data"}
    assert "following the device log" in result.stderr
    assert sim.log.subscriptions == {}


# The error paths the issue names: (scenario, CLI arguments after the URL, exit code, message).
ERRORS = [
    ("unsupported-size", ["snapshot", "--size", "800x600"], 4, "(error 12, parameter 'width')"),
    ("time-out-of-range", ["snapshot", "--at", "-45s"], 5, "keeps only the last 30 s"),
    ("device-memory-shorter", ["snapshot", "--at", "-20s"], 5, "error 12, parameter 'time'"),
    ("no-privilege", ["snapshot"], 4, "'viewer' lacks the Camera Monitoring privilege"),
    ("https-only", ["info"], 4, "add https=1 to the URL"),
    ("wrong-password", ["info"], 3, "wrong user name or password"),
    ("untrusted-certificate", ["info"], 6, "add verify=0"),
]


@pytest.mark.parametrize(
    ("scenario", "args", "code", "message"), ERRORS, ids=[e[0] for e in ERRORS]
)
def test_error_paths_exit_codes_and_messages(
    cli, make_2n, intercom, secure, tmp_path, scenario, args, code, message
):
    url = intercom.secret_url()
    if scenario == "unsupported-size":  # caps list 800x600, the camera refuses it
        url = make_2n(
            resolutions=DOCUMENTED_SIZES, listed_resolutions=[*DOCUMENTED_SIZES, (800, 600)]
        ).secret_url()
    elif scenario == "device-memory-shorter":
        url = make_2n(memory_seconds=10).secret_url()
    elif scenario == "no-privilege":
        url = as_user(url, VIEWER)
    elif scenario == "https-only":
        url = secure.secret_url(https=False)
    elif scenario == "wrong-password":
        url = wrong_password(url)
    elif scenario == "untrusted-certificate":
        url = secure.secret_url().replace("&verify=0", "")
    extra = ["-o", str(tmp_path / "x.jpg")] if args[0] == "snapshot" else []
    result = cli(args[0], url, *args[1:], *extra)
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("camfetch: ") and message in lines[0]
    assert no_secret(result.output) and "Zq9-not-it" not in result.output
    assert not (tmp_path / "x.jpg").exists()


def test_sim_command_serves_and_prints_an_https_url():
    proc = subprocess.Popen(
        [sys.executable, "-m", "camfetch", "sim", "2n", "--https-only", "--tz", "Asia/Tokyo",
         "--event-interval", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        assert "Simulated 2N IP Verso" in lines[0] and "HTTPS only" in lines[0]
        url = lines[1].split("device URL:")[1].strip()
        assert url.startswith("2n://admin:") and url.endswith("?https=1&verify=0")
        done = subprocess.run(
            [sys.executable, "-m", "camfetch", "info", url, "--json"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["info"]["time_zone"] == "Asia/Tokyo"
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0


def test_sim_command_checks_its_options(cli):
    assert cli("sim", "2n", "--auth", "kerberos").exit_code == 2
    assert cli("sim", "2n", "--service", "camera=ftp/basic").exit_code == 2
    assert cli("sim", "2n", "--privileges", "camera,admin").exit_code == 2
    assert cli("sim", "2n", "--resolution", "big").exit_code == 2
    result = cli("sim", "2n", "--help")
    assert result.exit_code == 0 and "--https-only" in result.stdout
