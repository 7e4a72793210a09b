"""The README's main job (the served demo fleet) and the tour run and deliver what they say."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from camfetch.media.jpeg import decode_check
from camfetch.media.mp4 import inspect_mp4

VENDORS = {
    "front-door": 1,  # Viewtron IPC v1.9
    "warehouse-nvr": 4,  # Viewtron NVR v2.0
    "loading-dock": 2,  # Dahua / Amcrest
    "main-gate": 2,  # 2N: internal and external camera
    "city-watcher": 3,  # Flussonic Watcher
}


def test_tour_uses_every_capability_of_every_vendor(cli, tmp_path: Path):
    result = cli("tour", "-o", str(tmp_path), "--seconds", "2")
    assert result.exit_code == 0, result.output
    assert "Done." in result.stdout and "warning" not in result.stderr
    for device, channels in VENDORS.items():
        folder = tmp_path / device
        live = sorted((folder / "live").glob("*.jpg"))
        assert len(live) == channels and all(decode_check(p.read_bytes()) for p in live)
    for device in ("front-door", "warehouse-nvr", "main-gate", "city-watcher"):
        assert len(list((tmp_path / device / "past").glob("*.jpg"))) == 1
    for device in ("front-door", "warehouse-nvr", "loading-dock", "city-watcher"):
        assert json.loads((tmp_path / device / "search-ch1.json").read_text())["segments"]
        (clip,) = (tmp_path / device).glob("*.mp4")
        assert abs(inspect_mp4(clip).duration - 2) <= 1
        assert len(list((tmp_path / device).glob("*.manifest.json"))) == 1
    for device in ("loading-dock", "main-gate"):
        assert len(list((tmp_path / device / "mjpeg").glob("*.jpg"))) == 5
    assert result.stdout.count("  events: ") == 2


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def test_demo_serves_the_fleet_with_its_jobs(tmp_path: Path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "camfetch", "demo", "-o", str(tmp_path), "--port", "0",
         "--duration", "45"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={k: v for k, v in os.environ.items() if k != "CAMFETCH_DEMO_PASSWORD"},
    )  # fmt: skip
    assert proc.stdout is not None
    address = None
    for line in proc.stdout:
        found = re.search(r"API\s+(http://127\.0\.0\.1:\d+)/api/devices", line)
        if found:
            address = found.group(1)
            break
    assert address is not None, proc.stderr.read() if proc.stderr else ""
    status, body = get(f"{address}/api/devices")
    assert status == 200
    devices = {d["name"]: d for d in json.loads(body)}
    assert set(devices) == set(VENDORS)
    status, picture = get(f"{address}/api/devices/main-gate/channels/2/latest.jpg")
    assert status == 200 and decode_check(picture)
    health: dict[tuple[str, int], dict] = {}  # type: ignore[type-arg]
    jobs: dict[str, dict] = {}  # type: ignore[type-arg]
    deadline = time.monotonic() + 35
    while time.monotonic() < deadline:  # the first health round, a round of captures
        time.sleep(1)
        listed = json.loads(get(f"{address}/api/health")[1])
        health = {(h["device"], h["channel"]): h for h in listed}
        jobs = {j["name"]: j for j in json.loads(get(f"{address}/api/jobs")[1])}
        if len(health) == 12 and jobs["timelapse"]["done"] >= 12:
            break
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert health[("warehouse-nvr", 3)]["reason"] == "black"
    assert health[("loading-dock", 1)]["reason"] == "clock_skew"
    assert health[("main-gate", 1)]["reason"] == "slow"
    assert health[("warehouse-nvr", 1)]["status"] == "ok"
    assert jobs["timelapse"]["done"] >= 12 and jobs["timelapse"]["targets"] == 12
    config = (tmp_path / "camfetch.yaml").read_text()
    assert "s1mul8" not in config and "${CAMFETCH_DEMO_PASSWORD}" in config
    assert len(list((tmp_path / "data").rglob("*.jpg"))) >= 12
