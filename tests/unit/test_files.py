import os
from pathlib import Path

import pytest

from camfetch.files import atomic_output, safe_name, write_atomic


def test_write_atomic_creates_folders_and_replaces(tmp_path: Path):
    target = tmp_path / "a" / "b" / "pic.jpg"
    write_atomic(target, b"one")
    write_atomic(target, b"two", durable=False)
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["pic.jpg"]


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "pic.jpg"
    target.write_bytes(b"old")

    def broken(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", broken)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_atomic_output_keeps_extension_and_cleans_up(tmp_path: Path):
    target = tmp_path / "clip.mp4"
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        assert tmp.suffix == ".mp4" and tmp.parent == tmp_path
        tmp.write_bytes(b"half")
        raise RuntimeError("ffmpeg died")
    assert list(tmp_path.iterdir()) == []
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole"


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("Front Door", "Front_Door"),
        ("../../etc/passwd", "etc_passwd"),
        ("Café/Tür #2", "Cafe_Tur_2"),
        ("..", "device"),
        ("", "device"),
        ("a" * 200, "a" * 80),
    ],
)
def test_safe_name(raw: str, safe: str):
    assert safe_name(raw) == safe
