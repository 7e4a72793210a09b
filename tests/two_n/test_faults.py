"""Every fault knob gives its typed error and exit code on a 2N intercom, and leaks nothing."""

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
from camfetch.sim.two_n import TwoNSimulator
from tests.faults import call, client_growth

SNAP, INFO = "camera/snapshot", "system/info"
# (fault, the function it hits, driver call, error class, CLI exit code)
CASES = [
    (Fault.DROP, SNAP, "snapshot", UnreachableError, 6),
    (Fault.CUT, SNAP, "snapshot", UnreachableError, 6),
    (Fault.HANG, SNAP, "snapshot", DeviceTimeoutError, 6),
    (Fault.DRIP, INFO, "info", DeviceTimeoutError, 6),
    (Fault.HTTP500, SNAP, "snapshot", DeviceRefusedError, 4),
    (Fault.HTTP500, INFO, "info", DeviceRefusedError, 4),
    (Fault.GARBAGE, SNAP, "snapshot", MalformedResponseError, 7),
    (Fault.GARBAGE, INFO, "info", MalformedResponseError, 7),
    (Fault.TRUNCATED_JPEG, SNAP, "snapshot", CorruptImageError, 7),
    (Fault.OVERSIZED, INFO, "info", ResponseTooLargeError, 7),
    (Fault.OVERSIZED, SNAP, "snapshot", ResponseTooLargeError, 7),
    (Fault.HTML, SNAP, "snapshot", MalformedResponseError, 7),
    (Fault.HTML, INFO, "info", MalformedResponseError, 7),
    (Fault.WRONG_TYPE, SNAP, "snapshot", MalformedResponseError, 7),
    (Fault.WRONG_TYPE, INFO, "info", MalformedResponseError, 7),
]
IDS = [f"{c[0].value}-{c[1]}" for c in CASES]


def faulty(make_2n, fault: Fault, function: str) -> TwoNSimulator:
    sim: TwoNSimulator = make_2n(name="Faulty", resolutions=[(640, 480)], tz="UTC")
    sim.faults.fault = fault
    sim.faults.only = frozenset({function})
    return sim


@pytest.mark.parametrize(("fault", "function", "what", "error", "code"), CASES, ids=IDS)
async def test_fault_gives_its_error_class(make_2n, fault, function, what, error, code):
    sim = faulty(make_2n, fault, function)
    with pytest.raises(error) as info:
        await call(sim.secret_url() + "?timeout=1.5", what)
    assert info.value.exit_code == code and sim.faults.hits >= 1
    assert str(info.value).startswith("2n://admin@127.0.0.1:")  # names the device, no password


@pytest.mark.parametrize(("fault", "function", "what", "error", "code"), CASES, ids=IDS)
def test_fault_gives_its_exit_code_on_the_command_line(
    make_2n, cli, fault, function, what, error, code
):
    sim = faulty(make_2n, fault, function)
    url = sim.secret_url() + "?timeout=1.5"
    args = ["info", url] if what == "info" else ["snapshot", url, "-o", "/dev/null/never.jpg"]
    result = cli(*args)
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"camfetch: {error.kind}: 2n://admin:***@")
    assert "Traceback" not in result.output


def test_latency_within_the_timeout_is_fine_and_beyond_it_times_out(make_2n, cli):
    sim = make_2n(tz="UTC")
    sim.faults.latency = 0.3
    assert cli("info", sim.secret_url()).exit_code == 0
    result = cli("info", sim.secret_url() + "?timeout=0.2")
    assert result.exit_code == 6 and "no complete answer within 0.2 s" in result.stderr


def test_unreachable_device(cli):
    result = cli("info", "2n://admin:unused-pw@127.0.0.1:9?timeout=2")
    assert result.exit_code == 6 and "cannot connect" in result.stderr


async def test_repeated_failures_do_not_grow_memory(make_2n):
    """Bad answers of every kind, many times over: memory stays flat.

    3 traced rounds of 12 failures under a 300 kB bound: a leak of 8 kB per failure shows.
    """
    # Not the slow ones; one oversized body (1 MiB cap) shows the cap under tracing.
    slow = {(Fault.HANG, SNAP), (Fault.DRIP, INFO), (Fault.OVERSIZED, SNAP)}
    quick = [case for case in CASES if case[:2] not in slow]
    sims = [faulty(make_2n, fault, function) for fault, function, *_ in quick]

    async def round_trip() -> None:
        for sim, (_, _, what, error, _) in zip(sims, quick, strict=True):
            with pytest.raises(error):
                await call(sim.secret_url() + "?timeout=2", what)

    growth, peak = await client_growth(round_trip, rounds=3)
    assert growth < 300_000, f"grew by {growth} bytes"
    assert peak < 64 * 1024 * 1024  # an oversized body is capped, not buffered
