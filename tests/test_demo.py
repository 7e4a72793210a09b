"""The README's main job runs and leaves what it promises."""

from __future__ import annotations

import json
from pathlib import Path

from camfetch.media.jpeg import decode_check
from camfetch.media.mp4 import inspect_mp4


def test_demo_tour(cli, tmp_path: Path):
    result = cli("demo", "-o", str(tmp_path), "--seconds", "2")
    assert result.exit_code == 0, result.output
    assert "Done." in result.stdout
    for device, channels in (("Front_Door", 1), ("Warehouse_NVR", 4)):
        folder = tmp_path / device
        live = sorted((folder / "live").glob("*.jpg"))
        assert len(live) == channels and all(decode_check(p.read_bytes()) for p in live)
        assert len(list((folder / "past").glob("*.jpg"))) == 1
        assert json.loads((folder / "search-ch1.json").read_text())["segments"]
        (clip,) = folder.glob("*.mp4")
        assert abs(inspect_mp4(clip).duration - 2) <= 1
        assert len(list(folder.glob("*.manifest.json"))) == 1
