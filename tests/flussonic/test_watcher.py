"""watcher:// against the simulated Watcher: login, sessions, API keys, cameras, tokens."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from camfetch.drivers.flussonic import WatcherDevice
from camfetch.errors import AuthenticationError, UnreachableError, UsageError
from camfetch.media.jpeg import decode_check
from camfetch.models import Capability, DeviceKind
from camfetch.registry import open_device
from camfetch.sim.flussonic import FlussonicSimulator
from tests.conftest import PASSWORD
from tests.flussonic.conftest import SIZE


def no_secret(text: str, *secrets: str) -> bool:
    return all(s not in text and quote(s, safe="") not in text for s in (PASSWORD, *secrets))


def base_url(sim: FlussonicSimulator) -> str:
    """The Watcher's address without user or password."""
    return f"watcher://127.0.0.1:{sim.port}?tz=Europe/Berlin"


async def test_info_channels_and_capabilities(watcher: FlussonicSimulator):
    async with open_device(watcher.secret_url()) as dev:
        info = await dev.info()
        channels = await dev.channels()
        caps = await dev.capabilities()
    assert info.vendor == "Flussonic" and info.model == "Watcher"
    assert info.kind is DeviceKind.MEDIA_SERVER and info.channel_count == 3
    assert info.extra["auth"] == "session"
    assert info.extra["streamers"] == f"http://127.0.0.1:{watcher.port}"
    assert [c.name for c in channels] == watcher.streams
    assert [c.title for c in channels] == ["Entrance", "Parking", "Lobby"]
    assert all(c.online for c in channels)
    assert caps == {
        Capability.SNAPSHOT,
        Capability.SNAPSHOT_AT,
        Capability.SEARCH,
        Capability.PLAYBACK,
    }


def test_channel_by_title_or_name_on_the_command_line(
    cli, watcher: FlussonicSimulator, tmp_path: Path
):
    out = tmp_path / "lobby.jpg"
    result = cli("snapshot", watcher.secret_url(), "--channel", "lobby", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["channel"] == 3 and data["original_format"] == "jpeg"
    assert decode_check(out.read_bytes()) == SIZE
    by_name = cli("snapshot", watcher.secret_url(), "-c", watcher.streams[1], "-o", str(out))
    assert by_name.exit_code == 0
    info = json.loads(cli("info", watcher.secret_url(), "--json").stdout)
    assert [c["title"] for c in info["channels"]] == ["Entrance", "Parking", "Lobby"]
    assert no_secret(result.output + info["device"])
    unknown = cli("snapshot", watcher.secret_url(), "-c", "Basement")
    assert unknown.exit_code == 2 and "no channel named 'Basement'" in unknown.stderr


async def test_expired_session_and_token_are_renewed_transparently(make_flussonic):
    sim = make_flussonic(watcher=True, cameras=2, session_ttl=3600)
    async with open_device(sim.secret_url()) as dev:
        assert isinstance(dev, WatcherDevice)
        first = await dev.snapshot(2)
        assert sim.logins == 1
        # Hours later: Watcher ended the session and the playback token ran out.
        sim.expire_sessions()
        sim.expire_tokens()
        second = await dev.snapshot(2)  # 403 -> ask Watcher again -> 401 -> log in -> new token
        assert sim.logins == 2 and dev.logins == 2
        third = await dev.snapshot(1)  # the new session serves the rest
    assert sim.logins == 2
    for snap in (first, second, third):
        assert decode_check(snap.data) == SIZE


@pytest.mark.parametrize("status", [401, 403])
async def test_session_renewal_with_either_status(make_flussonic, status: int):
    sim = make_flussonic(watcher=True, cameras=1, auth_status=status)
    async with open_device(sim.secret_url()) as dev:
        await dev.channels()
        sim.expire_sessions()
        sim.expire_tokens()
        await dev.snapshot(1)
    assert sim.logins == 2


async def test_system_and_user_api_keys(watcher: FlussonicSimulator):
    before = watcher.logins
    system = f"{base_url(watcher)}&api_key={watcher.system_key}"
    async with open_device(system) as dev:
        assert len(await dev.channels()) == 3
        assert (await dev.info()).extra["auth"] == "system API key"
    user = f"watcher://admin@127.0.0.1:{watcher.port}?api_key={watcher.user_key}"
    async with open_device(user) as dev:
        snap = await dev.snapshot(1)
        assert (await dev.info()).extra["auth"] == "user API key"
    assert decode_check(snap.data) == SIZE
    assert watcher.logins == before  # keys need no login


def test_wrong_api_key_is_exit_3_and_masked(cli, watcher: FlussonicSimulator):
    result = cli("info", f"{base_url(watcher)}&api_key=not-the-key-42")
    assert result.exit_code == 3, result.output
    assert "API key" in result.stderr and "not-the-key-42" not in result.output


async def test_wrong_password_is_tried_once(make_flussonic):
    sim = make_flussonic(watcher=True)
    url = sim.secret_url().replace(quote(PASSWORD, safe=""), "Zq9-not-it")
    async with open_device(url) as dev:
        with pytest.raises(AuthenticationError, match="rejected the user name or password"):
            await dev.info()
        for _ in range(3):
            with pytest.raises(AuthenticationError, match="not retrying"):
                await dev.snapshot(1)
    assert sim.failed_logins == 1


def test_missing_password_is_bad_usage(cli, watcher: FlussonicSimulator):
    result = cli("info", f"watcher://127.0.0.1:{watcher.port}")
    assert result.exit_code == 2 and "api_key" in result.stderr


async def test_camera_list_pages_past_a_capped_answer(make_flussonic):
    sim = make_flussonic(watcher=True, cameras=5, page_limit=2)
    async with open_device(sim.secret_url()) as dev:
        channels = await dev.channels()
    assert [c.name for c in channels] == sim.streams and [c.number for c in channels] == [
        1,
        2,
        3,
        4,
        5,
    ]


async def test_older_watcher_without_streamer_hostname(make_flussonic):
    sim = make_flussonic(watcher=True, streamer_hostname=False, jpeg=False)
    async with open_device(sim.secret_url()) as dev:
        snap = await dev.snapshot(1)
    assert snap.original_format == "mp4" and decode_check(snap.data) == SIZE
    # Watcher says its streamer has no JPEG thumbnails: preview.jpg is never asked for
    assert not any(p.endswith("preview.jpg") for p in sim.seen)


async def test_https_streamer(make_flussonic):
    sim = make_flussonic(watcher=True, https=True)
    assert "verify=0" in sim.secret_url()
    async with open_device(sim.secret_url()) as dev:
        info = await dev.info()
        snap = await dev.snapshot(1)
    assert info.extra["streamers"] == f"https://127.0.0.1:{sim.tls_port}"
    assert decode_check(snap.data) == SIZE
    strict = sim.secret_url().replace("&verify=0", "")
    async with open_device(strict) as dev:
        with pytest.raises(UnreachableError, match="certificate not trusted"):
            await dev.snapshot(1)


async def test_user_without_cameras(make_flussonic):
    sim = make_flussonic(watcher=True, page_limit=0)  # a user who sees nothing
    async with open_device(sim.secret_url()) as dev:
        assert await dev.channels() == []
        assert await dev.capabilities() == {Capability.SNAPSHOT}
        with pytest.raises(UsageError, match="sees no cameras"):
            await dev.snapshot(1)
