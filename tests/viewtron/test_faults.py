"""Every fault knob and malformed body gives its typed error and exit code, and leaks nothing."""

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
from camfetch.sim.faults import Fault
from camfetch.sim.viewtron import ViewtronSimulator
from tests.faults import call, client_growth

# (fault, command it hits, driver call, error class, CLI exit code)
CASES = [
    (Fault.DROP, "GetSnapshot", "snapshot", UnreachableError, 6),
    (Fault.CUT, "GetSnapshot", "snapshot", UnreachableError, 6),
    (Fault.HANG, "GetSnapshot", "snapshot", DeviceTimeoutError, 6),
    (Fault.DRIP, "GetDeviceInfo", "info", DeviceTimeoutError, 6),
    (Fault.HTTP500, "GetSnapshot", "snapshot", DeviceRefusedError, 4),
    (Fault.GARBAGE, "GetSnapshot", "snapshot", MalformedResponseError, 7),
    (Fault.GARBAGE, "GetDeviceInfo", "info", MalformedResponseError, 7),
    (Fault.TRUNCATED_JPEG, "GetSnapshot", "snapshot", CorruptImageError, 7),
    (Fault.BAD_XML, "GetDeviceInfo", "info", MalformedResponseError, 7),
    (Fault.XML_BOMB, "GetDeviceInfo", "info", MalformedResponseError, 7),
    (Fault.OVERSIZED, "GetDeviceInfo", "info", ResponseTooLargeError, 7),
    (Fault.OVERSIZED, "GetSnapshot", "snapshot", ResponseTooLargeError, 7),
    (Fault.HTML, "GetSnapshot", "snapshot", MalformedResponseError, 7),
    (Fault.HTML, "GetDeviceInfo", "info", MalformedResponseError, 7),
    (Fault.WRONG_TYPE, "GetSnapshot", "snapshot", MalformedResponseError, 7),
    (Fault.WRONG_TYPE, "GetDeviceInfo", "info", MalformedResponseError, 7),
]
IDS = [f"{c[0].value}-{c[1]}" for c in CASES]


def faulty(make_sim, fault: Fault, command: str) -> ViewtronSimulator:
    sim: ViewtronSimulator = make_sim(api="2.0", kind="ipc", name="Faulty")
    sim.faults.fault = fault
    sim.faults.only = frozenset({command})
    return sim


@pytest.mark.parametrize(("fault", "command", "what", "error", "code"), CASES, ids=IDS)
async def test_fault_gives_its_error_class(make_sim, fault, command, what, error, code):
    sim = faulty(make_sim, fault, command)
    with pytest.raises(error) as info:
        await call(sim.secret_url() + "&timeout=1.5", what)
    assert info.value.exit_code == code
    assert sim.faults.hits >= 1
    assert "127.0.0.1" in str(info.value) and sim.password not in str(info.value)


@pytest.mark.parametrize(("fault", "command", "what", "error", "code"), CASES, ids=IDS)
def test_fault_gives_its_exit_code_on_the_command_line(
    make_sim, cli, fault, command, what, error, code
):
    sim = faulty(make_sim, fault, command)
    args = ["info", sim.secret_url() + "&timeout=1.5"]
    if what == "snapshot":
        args = ["snapshot", sim.secret_url() + "&timeout=1.5", "-o", "/dev/null/never.jpg"]
    result = cli(*args)
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("camfetch: ")
    assert "Traceback" not in result.output


def test_latency_within_the_timeout_is_fine_and_beyond_it_times_out(make_sim, cli):
    sim = make_sim(api="2.0", kind="ipc")
    sim.faults.latency = 0.3
    assert cli("info", sim.secret_url()).exit_code == 0
    result = cli("info", sim.secret_url() + "&timeout=0.2")
    assert result.exit_code == 6 and "no complete answer within 0.2 s" in result.stderr


def test_unreachable_device(cli):
    result = cli("info", "viewtron://admin:x@127.0.0.1:9?timeout=2")
    assert result.exit_code == 6 and "cannot connect" in result.stderr


async def test_repeated_failures_do_not_grow_memory(make_sim):
    """Bad answers of every kind, many times over: memory stays flat."""
    quick = [case for case in CASES if case[0] not in {Fault.HANG, Fault.DRIP}]
    sims = [faulty(make_sim, fault, command) for fault, command, *_ in quick]

    async def round_trip() -> None:
        for sim, (_, _, what, error, _) in zip(sims, quick, strict=True):
            with pytest.raises(error):
                await call(sim.secret_url() + "&timeout=2", what)

    growth, peak = await client_growth(round_trip, rounds=6)
    assert growth < 1_000_000, f"grew by {growth} bytes"
    assert peak < 64 * 1024 * 1024  # an oversized body is capped, not buffered
