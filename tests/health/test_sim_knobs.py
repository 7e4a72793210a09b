"""The simulators' condition knobs: pictures, going offline and back, the scriptable API."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
import typer

from camfetch.cli.sim import SimConditions, parse_pictures
from camfetch.jobs.health import analyse_picture, same_picture
from camfetch.registry import open_device
from camfetch.sim.frames import PictureMode
from camfetch.sim.viewtron import ViewtronSimulator
from tests.conftest import SimLoop


def refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_modes_shape_frames_from_their_moment_on(yard: ViewtronSimulator):
    now = yard.clock.now()
    past = now - timedelta(hours=1)
    yard.set_picture("black")
    black = analyse_picture(yard.frames.jpeg(2, now + timedelta(seconds=1)))
    before = analyse_picture(yard.frames.jpeg(2, past))  # recorded before: untouched
    assert black.luma < 16 and before.luma > 40
    assert yard.frames.mode(2) is PictureMode.BLACK
    yard.set_picture(PictureMode.FROZEN, 1)  # a channel's own mode wins over every channel's
    assert yard.frames.mode(1) is PictureMode.FROZEN and yard.frames.mode(2) is PictureMode.BLACK
    held = [yard.frames.jpeg(1, now + timedelta(seconds=s)) for s in range(1, 4)]
    assert len(set(held)) == 3  # other bytes each second …
    prints = [analyse_picture(data).fingerprint for data in held]
    assert same_picture(prints[0], prints[1]) and same_picture(
        prints[0], prints[2]
    )  # … one picture
    assert yard.frames.image(1, now + timedelta(minutes=5)).tobytes() == (
        yard.frames.image(1, now + timedelta(seconds=2)).tobytes()
    )  # recorded video of a frozen camera holds the frame too
    yard.set_picture("normal")
    assert yard.frames.modes() == {}
    assert yard.frames.cached_jpeg(1, now + timedelta(seconds=1)) is None  # no stale frames


def test_a_frame_cached_before_a_mode_change_is_not_served_after_it(yard: ViewtronSimulator):
    moment = yard.live_moment()
    normal = yard.frames.jpeg(1, moment)
    assert yard.frames.cached_jpeg(1, moment) == normal
    yard.frames.set_mode("black", 1, since=moment)  # black from that very moment on
    assert yard.frames.cached_jpeg(1, moment) is None
    assert analyse_picture(yard.frames.jpeg(1, moment)).luma < 16
    assert analyse_picture(yard.frames.jpeg(1, moment - timedelta(seconds=1))).luma > 40


async def test_offline_refuses_http_and_rtsp_and_comes_back_on_the_same_ports(
    yard: ViewtronSimulator, sim_loop: SimLoop
):
    http, rtsp = yard.port, yard.rtsp_port
    url = yard.secret_url()
    async with open_device(url) as device:
        await device.snapshot(1)  # a kept-alive connection, which going offline must cut
        sim_loop.call(yard.go_offline())
        assert yard.offline and refused(http) and refused(rtsp)
        assert yard.condition()["offline"] is True
        sim_loop.call(yard.go_offline())  # twice is harmless
        sim_loop.call(yard.come_back())
        assert not yard.offline and (yard.port, yard.rtsp_port) == (http, rtsp)
        assert not refused(rtsp) and yard.secret_url() == url
        assert (await device.snapshot(1)).size > 0


async def test_an_outage_goes_offline_and_comes_back(yard: ViewtronSimulator, sim_loop: SimLoop):
    import asyncio

    task = asyncio.run_coroutine_threadsafe(yard.outage(0.3, after=0.1), sim_loop.loop)
    await asyncio.sleep(0.25)
    assert yard.offline and refused(yard.port)
    task.result(5)
    assert not yard.offline and not refused(yard.port)


def test_set_condition_changes_everything_asked_and_nothing_else(
    yard: ViewtronSimulator, sim_loop: SimLoop
):
    sim_loop.call(yard.set_condition(picture="frozen", channel=2, latency=0.25, skew=-40))
    assert yard.condition() == {
        "offline": False, "latency": 0.25, "skew": -40.0, "pictures": {"2": "frozen"},
    }  # fmt: skip
    sim_loop.call(yard.set_condition(picture="black"))
    assert yard.condition()["pictures"] == {"*": "black"} and yard.faults.latency == 0.25
    with pytest.raises(ValueError):
        sim_loop.call(yard.set_condition(picture="purple"))
    with pytest.raises(ValueError):
        sim_loop.call(yard.set_condition(latency=-1))


def test_sim_command_options_parse_and_apply(yard: ViewtronSimulator, sim_loop: SimLoop):
    assert parse_pictures(["black", "2=frozen"]) == {
        None: PictureMode.BLACK, 2: PictureMode.FROZEN,
    }  # fmt: skip
    for wrong in ("purple", "x=black", "0=black"):
        with pytest.raises(typer.BadParameter):
            parse_pictures([wrong])
    conditions = SimConditions(pictures={2: PictureMode.BLACK})
    assert conditions.describe() == ["  picture: black on channel 2"]

    async def apply() -> int:
        return len(conditions.apply([yard]))

    assert sim_loop.call(apply()) == 0 and yard.frames.mode(2) is PictureMode.BLACK


def test_sim_command_rejects_a_wrong_picture(cli):
    result = cli("sim", "--picture", "purple", "viewtron")
    assert result.exit_code == 2 and "normal, black or frozen" in result.output
