"""The command line contract: commands, flags, output, JSON, exit codes, no secrets."""

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
from camfetch.sim.viewtron import ViewtronSimulator
from tests.conftest import PASSWORD


def no_secret(text: str) -> bool:
    return PASSWORD not in text and quote(PASSWORD, safe="") not in text


def test_info_text_and_json(cli, nvr: ViewtronSimulator):
    result = cli("info", nvr.secret_url())
    assert result.exit_code == 0, result.output
    assert "TD-3308H1-8P-B1" in result.stdout and "2.0.0" in result.stdout
    assert "Warehouse CH4" in result.stdout and no_secret(result.output)
    data = json.loads(cli("info", nvr.secret_url(), "--json").stdout)
    assert data["info"]["vendor"] == "Viewtron" and data["info"]["channel_count"] == 4
    assert data["info"]["kind"] == "nvr" and data["info"]["api_version"] == "2.0.0"
    assert [c["number"] for c in data["channels"]] == [1, 2, 3, 4]
    assert set(data["capabilities"]) == {"snapshot", "snapshot_at", "search", "playback"}
    assert data["device"].startswith("viewtron://admin:***@127.0.0.1")


def test_snapshot_prints_the_path(cli, ipc: ViewtronSimulator, tmp_path: Path):
    out = tmp_path / "door.jpg"
    result = cli("snapshot", ipc.secret_url(), "-o", str(out))
    assert result.exit_code == 0 and result.stdout.strip() == str(out)
    assert decode_check(out.read_bytes()) == (1280, 720)


def test_snapshot_default_name_in_a_directory(cli, nvr: ViewtronSimulator, tmp_path: Path):
    result = cli("snapshot", nvr.secret_url(), "--channel", "3", "-o", str(tmp_path), "--json")
    data = json.loads(result.stdout)
    path = Path(data["path"])
    assert path.parent == tmp_path and path.name.startswith("Warehouse_ch3_")
    assert data["channel"] == 3 and data["source"] == "live" and data["width"] == 1280


def test_snapshot_at_a_past_time(cli, ipc: ViewtronSimulator, tmp_path: Path):
    now = timeutil.utcnow()
    rec = ipc.archive.segments(1, now - timedelta(hours=3), now - timedelta(hours=1))[2]
    local = timeutil.format_wall(rec.start + timedelta(seconds=3), ipc.clock.tz)  # device time
    out = tmp_path / "past.jpg"
    result = cli("snapshot", ipc.secret_url(), "--at", local, "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["source"] == "archive" and data["device_time"].startswith(local.replace(" ", "T"))
    assert decode_check(out.read_bytes())


def test_snapshot_at_in_the_future_is_bad_usage(cli, ipc: ViewtronSimulator):
    result = cli("snapshot", ipc.secret_url(), "--at", "now+2h")
    assert result.exit_code == 2 and "not happened yet" in result.stderr


def test_search_text_json_and_types(cli, nvr: ViewtronSimulator):
    args = ["search", nvr.secret_url(), "--channel", "2", "--from", "-6h", "--to", "now"]
    text = cli(*args)
    assert text.exit_code == 0 and "segments" in text.stdout.splitlines()[-1]
    data = json.loads(cli(*args, "--type", "motion", "--type", "smart", "--json").stdout)
    assert data["count"] == len(data["segments"]) > 0 and data["channel"] == 2
    assert {s["kind"] for s in data["segments"]} <= {"motion", "smart"}
    assert {s["vendor_kind"] for s in data["segments"]} <= {"motion", "intelligentDetection"}
    first = data["segments"][0]
    assert set(first) == {"channel", "start", "end", "duration", "kind", "vendor_kind"}


def test_search_with_nothing_recorded_exits_5(cli, ipc: ViewtronSimulator):
    result = cli("search", ipc.secret_url(), "--from", "-40d", "--to", "-39d", "--json")
    assert result.exit_code == 5
    assert json.loads(result.stdout)["count"] == 0
    assert "nothing recorded" in result.stderr


def test_search_with_a_local_time_window(cli, ipc: ViewtronSimulator):
    day = (timeutil.utcnow() - timedelta(days=1)).astimezone(ipc.clock.tz)
    result = cli(
        "search", ipc.secret_url(), "--from", f"{day:%Y-%m-%d} 10:00:00",
        "--to", f"{day:%Y-%m-%d} 11:00:00", "--json",
    )  # fmt: skip
    data = json.loads(result.stdout)
    assert data["from"].startswith(f"{day:%Y-%m-%d}T10:00:00")  # device's zone, with offset
    assert data["from"].endswith(("-05:00", "-04:00"))


def test_export_with_duration_and_json(cli, nvr: ViewtronSimulator, tmp_path: Path):
    now = timeutil.utcnow()
    rec = next(r for r in nvr.archive.segments(1, now - timedelta(hours=5), now) if r.seconds > 8)
    start = (rec.start + timedelta(seconds=1)).isoformat()
    out = tmp_path / "clip.mp4"
    result = cli(
        "export", nvr.secret_url(), "--from", start, "--duration", "5", "-o", str(out), "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["codec"] == "h264" and abs(data["duration"] - 5) <= 1 and data["complete"]
    assert Path(data["manifest"]).exists() and inspect_mp4(out).video is not None
    assert no_secret(result.output) and no_secret(Path(data["manifest"]).read_text())


def test_export_to_and_duration_are_exclusive(cli, nvr: ViewtronSimulator):
    both = cli("export", nvr.secret_url(), "--from", "-1h", "--to", "-59m", "--duration", "5")
    neither = cli("export", nvr.secret_url(), "--from", "-1h")
    assert both.exit_code == 2 and neither.exit_code == 2


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["info", "ftp://host"], 2),
        (["info", "viewtron://h?bogus=1"], 2),
        (["search", "URL", "--from", "yesterday", "--to", "now"], 2),
        (["snapshot", "URL", "--channel", "9"], 2),
        (["info"], 2),
    ],
)
def test_bad_usage_exits_2(cli, nvr: ViewtronSimulator, args: list[str], code: int):
    args = [nvr.secret_url() if a == "URL" else a for a in args]
    result = cli(*args)
    assert result.exit_code == code


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.startswith("camfetch ")


def run_camfetch(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camfetch", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_wrong_password_exit_3_and_the_password_appears_nowhere(nvr: ViewtronSimulator):
    wrong = "Sekr3t-W#ong"
    url = nvr.secret_url().replace(quote(PASSWORD, safe=""), quote(wrong, safe=""))
    for command in (
        ["info", url],
        ["snapshot", url, "-o", "/tmp/none.jpg"],
        ["search", url, "--from", "-1h", "--to", "now"],
    ):
        done = run_camfetch(*command)
        assert done.returncode == 3, done.stderr
        assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
        assert "authentication" in done.stderr
        for text in (done.stdout, done.stderr):
            assert wrong not in text and quote(wrong, safe="") not in text


def test_password_from_environment_and_file(nvr: ViewtronSimulator, tmp_path: Path):
    bare = f"viewtron://admin@127.0.0.1:{nvr.port}?tz=Europe/Berlin"
    by_env = run_camfetch("info", bare, "--json", env={"CAMFETCH_PASSWORD": PASSWORD})
    assert by_env.returncode == 0, by_env.stderr
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    by_file = run_camfetch("info", bare + f"&password_file={secret}", "--json")
    assert by_file.returncode == 0 and no_secret(by_file.stdout)


def test_sim_command_serves_and_prints_its_url(tmp_path: Path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "camfetch", "sim", "viewtron", "--api", "1.9", "--tz", "Asia/Tokyo"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        assert "Viewtron IPC, API 1.9" in lines[0]
        url = lines[1].split("device URL:")[1].strip()
        assert url.startswith("viewtron://admin:s1mul8@127.0.0.1:") and "tz=Asia/Tokyo" in url
        done = run_camfetch("info", url, "--json")
        assert json.loads(done.stdout)["info"]["time_zone"] == "Asia/Tokyo"
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0


def test_sim_with_a_custom_password_masks_it():
    proc = subprocess.Popen(
        [sys.executable, "-m", "camfetch", "sim", "viewtron", "--password", "MyS3cret"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
    finally:
        proc.terminate()
        proc.wait(10)
    assert "MyS3cret" not in "".join(lines) and "admin:***@" in lines[1]


def test_output_folder_with_a_trailing_slash_is_created(
    cli, ipc: ViewtronSimulator, tmp_path: Path
):
    folder = tmp_path / "new" / "snaps"
    result = cli("snapshot", ipc.secret_url(), "-o", f"{folder}/")
    assert result.exit_code == 0, result.output
    written = Path(result.stdout.strip())
    assert written.parent == folder and written.name.startswith("Front_Door_ch1_")
