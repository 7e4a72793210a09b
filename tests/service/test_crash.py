"""SIGKILL in the middle of captures: no partial picture, a catalog that opens cleanly."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from camfetch.media.jpeg import decode_check
from camfetch.service.catalog import Catalog
from camfetch.service.storage import LocalStorage


async def test_killed_service_leaves_only_whole_pictures(tmp_path: Path, make_sim):
    sims = [make_sim(api="2.0", kind="nvr", channels=4, name=f"NVR {n}") for n in range(2)]
    devices = "".join(
        f"  - name: nvr{n}\n    url: '{s.secret_url()}'\n    max_requests: 4\n"
        for n, s in enumerate(sims)
    )
    config = tmp_path / "camfetch.yaml"
    config.write_text(
        f"storage: {{root: {tmp_path / 'data'}}}\n"
        "api: {listen: '127.0.0.1:0'}\n"
        f"devices:\n{devices}"
        "jobs:\n  - {name: tl, type: timelapse, interval: 1s}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "camfetch", "serve", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "CAMFETCH_DEBUG": "1"},
    )  # fmt: skip
    root = tmp_path / "data"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(list(root.rglob("*.jpg"))) < 24:
        time.sleep(0.05)
    time.sleep(0.37)  # land somewhere inside a round of 8 captures
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    pictures = [p for p in root.rglob("*.jpg") if ".incoming" not in p.parts]
    assert len(pictures) >= 24
    for picture in pictures:  # every picture under its final name is whole
        assert decode_check(picture.read_bytes()) == (1280, 720)
    with sqlite3.connect(root / "catalog.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    LocalStorage(root).close()  # reopening the store clears whatever a crash left half-written
    assert list((root / ".incoming").iterdir()) == []
    catalog = Catalog(f"sqlite:///{root / 'catalog.db'}")
    await catalog.open()
    try:
        for device in await catalog.devices():
            for channel in device["channels"]:
                latest = await catalog.latest_capture(channel["id"])
                assert latest is not None and (root / latest.path).exists()
    finally:
        await catalog.close()
