"""Fault knobs on the Flussonic simulator give the driver's typed errors and exit codes."""

from __future__ import annotations

import pytest

from camfetch.errors import (
    CorruptImageError,
    DeviceRefusedError,
    DeviceTimeoutError,
    MalformedResponseError,
    ResponseTooLargeError,
    UnreachableError,
)
from camfetch.registry import open_device
from camfetch.sim.faults import Fault
from camfetch.sim.flussonic import FlussonicSimulator

# (fault, command it hits, JPEG thumbnails on, Watcher in front, error class, exit code)
CASES = [
    (Fault.DROP, "preview.jpg", True, False, UnreachableError, 6),
    (Fault.CUT, "preview.mp4", False, False, UnreachableError, 6),
    (Fault.HANG, "preview.jpg", True, False, DeviceTimeoutError, 6),
    (Fault.HTTP500, "preview.mp4", False, False, DeviceRefusedError, 4),
    (Fault.GARBAGE, "preview.mp4", False, False, MalformedResponseError, 7),
    (Fault.TRUNCATED_JPEG, "preview.jpg", True, False, CorruptImageError, 7),
    (Fault.HTML, "preview.jpg", True, False, MalformedResponseError, 7),
    (Fault.HTML, "preview.mp4", False, False, MalformedResponseError, 7),
    (Fault.OVERSIZED, "preview.mp4", False, False, ResponseTooLargeError, 7),
    (Fault.HTML, "login", True, True, MalformedResponseError, 7),
    (Fault.GARBAGE, "cameras", True, True, MalformedResponseError, 7),
    (Fault.HTTP500, "cameras", True, True, DeviceRefusedError, 4),
    (Fault.DRIP, "cameras", True, True, DeviceTimeoutError, 6),
]
IDS = [f"{c[0].value}-{c[1]}" for c in CASES]


def faulty(make_flussonic, fault: Fault, command: str, jpeg: bool, watcher: bool):
    sim: FlussonicSimulator = make_flussonic(watcher=watcher, jpeg=jpeg)
    sim.faults.fault = fault
    sim.faults.only = frozenset({command})
    return sim


@pytest.mark.parametrize(("fault", "command", "jpeg", "watcher", "error", "code"), CASES, ids=IDS)
async def test_fault_gives_its_error_class(
    make_flussonic, fault, command, jpeg, watcher, error, code
):
    sim = faulty(make_flussonic, fault, command, jpeg, watcher)
    with pytest.raises(error) as info:
        async with open_device(sim.secret_url() + "&timeout=1.5") as dev:
            await dev.snapshot(1)
    assert info.value.exit_code == code and sim.faults.hits >= 1
    assert "token=" not in str(info.value)


@pytest.mark.parametrize(
    ("fault", "command", "jpeg", "watcher", "error", "code"), CASES[::3], ids=IDS[::3]
)
def test_fault_gives_its_exit_code_on_the_command_line(
    make_flussonic, cli, fault, command, jpeg, watcher, error, code, tmp_path
):
    sim = faulty(make_flussonic, fault, command, jpeg, watcher)
    result = cli("snapshot", sim.secret_url() + "&timeout=1.5", "-o", str(tmp_path / "x.jpg"))
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("camfetch: ")
    assert not (tmp_path / "x.jpg").exists()
