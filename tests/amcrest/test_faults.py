"""Every fault knob gives its typed error and exit code, on whole answers and on streams,
and repeated failures leave no memory behind."""

from __future__ import annotations

from pathlib import Path

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
from camfetch.sim.amcrest import AmcrestSimulator
from camfetch.sim.faults import Fault
from tests.amcrest.conftest import url
from tests.faults import call, client_growth

# (fault, command it hits, driver call, error class, CLI exit code)
CASES = [
    (Fault.DROP, "snapshot", "snapshot", UnreachableError, 6),
    (Fault.CUT, "snapshot", "snapshot", UnreachableError, 6),
    (Fault.HANG, "snapshot", "snapshot", DeviceTimeoutError, 6),
    (Fault.DRIP, "magicBox.getDeviceType", "info", DeviceTimeoutError, 6),
    (Fault.HTTP500, "snapshot", "snapshot", DeviceRefusedError, 4),
    (Fault.HTTP500, "magicBox.getSerialNo", "info", DeviceRefusedError, 4),
    (Fault.GARBAGE, "snapshot", "snapshot", MalformedResponseError, 7),
    (Fault.GARBAGE, "magicBox.getSerialNo", "info", MalformedResponseError, 7),
    (Fault.TRUNCATED_JPEG, "snapshot", "snapshot", CorruptImageError, 7),
    (Fault.OVERSIZED, "magicBox.getDeviceType", "info", ResponseTooLargeError, 7),
    (Fault.OVERSIZED, "snapshot", "snapshot", ResponseTooLargeError, 7),
    (Fault.HTML, "snapshot", "snapshot", MalformedResponseError, 7),
    (Fault.HTML, "magicBox.getDeviceType", "info", MalformedResponseError, 7),
    (Fault.WRONG_TYPE, "snapshot", "snapshot", MalformedResponseError, 7),
    (Fault.WRONG_TYPE, "magicBox.getSerialNo", "info", MalformedResponseError, 7),
    (Fault.GARBAGE, "eventManager.attach", "events", MalformedResponseError, 7),
    (Fault.HTML, "eventManager.attach", "events", MalformedResponseError, 7),
    (Fault.HTTP500, "eventManager.attach", "events", DeviceRefusedError, 4),
    (Fault.GARBAGE, "mjpg", "stream", CorruptImageError, 7),
    (Fault.CUT, "mjpg", "stream", UnreachableError, 6),
]
IDS = [f"{c[0].value}-{c[1]}" for c in CASES]
QUICK = "&timeout=1.5&snapshot_timeout=1.5"


def faulty(make_sim, fault: Fault, command: str) -> AmcrestSimulator:
    sim: AmcrestSimulator = make_sim(
        AmcrestSimulator, profile="modern", name="Faulty", mjpeg_fps=50.0
    )
    sim.faults.fault = fault
    sim.faults.only = frozenset({command})
    return sim


@pytest.mark.parametrize(("fault", "command", "what", "error", "code"), CASES, ids=IDS)
async def test_fault_gives_its_error_class(make_sim, fault, command, what, error, code):
    sim = faulty(make_sim, fault, command)
    with pytest.raises(error) as info:
        await call(sim.secret_url() + QUICK, what)
    assert info.value.exit_code == code
    assert "127.0.0.1" in str(info.value)  # the device is named, one line
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("fault", "command", "what", "error", "code"), CASES, ids=IDS)
def test_fault_gives_its_exit_code_on_the_command_line(
    make_sim, cli, tmp_path: Path, fault, command, what, error, code
):
    sim = faulty(make_sim, fault, command)
    address = sim.secret_url() + QUICK
    args = {
        "info": ["info", address],
        "snapshot": ["snapshot", address, "-o", str(tmp_path / "never.jpg")],
        "events": ["events", address, "--count", "1"],
        "stream": ["stream", address, "-o", str(tmp_path), "--count", "3"],
    }[what]
    result = cli(*args)
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and "event stream" not in ln]
    assert len(lines) == 1 and lines[0].startswith("camfetch: "), result.stderr
    assert "Traceback" not in result.output
    if what == "snapshot":
        assert list(tmp_path.iterdir()) == []  # nothing half-written


@pytest.mark.parametrize("fault", [Fault.BAD_XML, Fault.XML_BOMB])
async def test_xml_faults_do_not_touch_a_text_api(make_sim, fault: Fault):
    sim = faulty(make_sim, fault, "magicBox.getDeviceType")
    async with open_device(sim.secret_url()) as dev:
        assert (await dev.info()).model == "IPC-HDW5831R-ZE"


def test_latency_within_the_timeout_is_fine_and_beyond_it_times_out(make_sim, cli, tmp_path: Path):
    sim = make_sim(AmcrestSimulator, profile="legacy")
    sim.faults.latency = 0.3
    out = str(tmp_path / "slow.jpg")
    assert cli("snapshot", sim.secret_url(), "-o", out).exit_code == 0
    result = cli("snapshot", url(sim, timeout="0.2"), "-o", out)
    assert result.exit_code == 6 and "no complete answer within 0.2 s" in result.stderr


async def test_repeated_failures_do_not_grow_memory(make_sim):
    """Bad answers of every quick kind, many times over: memory stays flat."""
    quick = [c for c in CASES if c[0] not in {Fault.HANG, Fault.DRIP} and c[2] == "snapshot"]
    sims = [faulty(make_sim, fault, command) for fault, command, *_ in quick]

    async def round_trip() -> None:
        for sim, (_, _, what, error, _) in zip(sims, quick, strict=True):
            with pytest.raises(error):
                await call(sim.secret_url() + "&timeout=2", what)

    growth, peak = await client_growth(round_trip, rounds=3)
    assert growth < 1_000_000, f"grew by {growth} bytes"
    assert peak < 64 * 1024 * 1024  # an oversized body is capped, not buffered
