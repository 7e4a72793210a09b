"""py2n (PyPI), an independent 2N client, reads the simulated intercom: evidence of fidelity."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from py2n import Py2NDevice
from py2n.exceptions import ApiError, DeviceApiError
from py2n.model import Py2NConnectionData
from py2n.utils import api_request, get_info

from camfetch.sim.two_n import TwoNSimulator
from tests.conftest import PASSWORD
from tests.two_n.conftest import VIEWER


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def options(
    sim: TwoNSimulator,
    *,
    https: bool = False,
    user: str = "admin",
    password: str = PASSWORD,
    **extra: object,
) -> Py2NConnectionData:
    port = sim.https_port if https else sim.port
    return Py2NConnectionData(
        host=f"127.0.0.1:{port}",
        username=user,
        password=password,
        protocol="https" if https else "http",
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
async def test_py2n_reads_system_info_with_digest(session, intercom: TwoNSimulator, https: bool):
    info = await get_info(session, options(intercom, https=https, auth_method="digest"))
    assert info["deviceName"] == "Front Gate" and info["variant"] == "2N IP Verso"
    assert info["serialNumber"] == intercom.serial and info["swVersion"] == "2.35.0.45.0"


async def test_py2n_device_and_its_log(session, make_2n, on_sim):
    sim: TwoNSimulator = make_2n(name="Side Door")
    device = await Py2NDevice.create(
        session, options(sim, https=True, auth_method="digest", unprivileged=True)
    )
    data = device.data
    assert (data.name, data.model, data.firmware) == (
        "Side Door",
        "2N IP Verso",
        "2.35.0.45.0-release",
    )
    assert data.mac == sim.mac_address and "MotionDetected" in data.log_caps
    channel = await device.log_subscribe()
    on_sim(lambda: sim.emit("MotionDetected", state="in"))
    events = await device.log_pull(channel, timeout=2)
    assert [(e["event"], e["params"]) for e in events] == [("MotionDetected", {"state": "in"})]
    await device.log_unsubscribe(channel)
    assert sim.log.subscriptions == {}


@pytest.mark.filterwarnings("ignore::DeprecationWarning:py2n")  # py2n's Basic auth on aiohttp 3.14
@pytest.mark.parametrize(
    ("how", "error"),
    [
        ({"password": "not-it", "auth_method": "digest"}, ApiError.AUTHORIZATION_REQUIRED),
        ({"auth_method": "basic"}, ApiError.INVALID_AUTHENTICATION_METHOD),  # a Digest service
    ],
)
async def test_py2n_sees_the_authentication_errors(session, intercom, how, error):
    with pytest.raises(DeviceApiError) as info:
        await get_info(session, options(intercom, **how))
    assert info.value.error is error


async def test_py2n_sees_https_only_and_privilege_errors(session, intercom, secure):
    with pytest.raises(DeviceApiError) as info:
        await get_info(session, options(secure, auth_method="digest"))
    assert info.value.error is ApiError.INVALID_CONNECTION_TYPE
    viewer = options(intercom, user=VIEWER.name, password=VIEWER.password, auth_method="digest")
    with pytest.raises(DeviceApiError) as info:
        await api_request(session, viewer, "/api/camera/caps")
    assert info.value.error is ApiError.INSUFFICIENT_PRIVILEGES
    caps = await api_request(session, options(intercom, auth_method="digest"), "camera/caps")
    assert caps is not None and {"width": 640, "height": 480} in caps["jpegResolution"]
