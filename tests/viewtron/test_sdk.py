"""The vendor's own Python SDK (PyPI ``viewtron``) reads the simulators: evidence of fidelity."""

from __future__ import annotations

import pytest

from camfetch.sim.viewtron import ViewtronSimulator
from viewtron import ViewtronCamera


@pytest.mark.parametrize(
    ("persona_name", "api", "config"), [("ipc", None, "1.7"), ("nvr", "2.0.0", "2.0.0")]
)
def test_sdk_reads_device_info_and_capabilities(
    request, persona_name: str, api: str | None, config: str
):
    sim: ViewtronSimulator = request.getfixturevalue(persona_name)
    camera = ViewtronCamera("127.0.0.1", sim.username, sim.password, port=sim.port)
    info = camera.get_device_info()
    assert info["deviceName"] == sim.name and info["model"] == sim.model
    assert info["softwareVersion"] == sim.firmware  # the SDK strips the CDATA whitespace too
    caps = camera.capabilities
    assert caps.config_version == config
    if api is None:
        # v1.9: no apiVersion in GetDeviceInfo; the SDK falls back to GetDeviceDetail (1.7)
        assert caps.api_version == "1.7"
        assert caps.supported_apis is None  # GetSupportedAPIs: HTTP 400, empty body
    else:
        assert caps.api_version == api and caps.http_post_version == "2.0"
        assert {"GetSnapshot", "SearchByTime", "GetChannelInfo"} <= caps.supported_apis


def test_sdk_wrong_password_is_rejected(nvr: ViewtronSimulator):
    from viewtron.client import ViewtronAPIError

    camera = ViewtronCamera("127.0.0.1", "admin", "nope", port=nvr.port)
    with pytest.raises(ViewtronAPIError) as info:
        camera.get_device_info()
    assert info.value.http_status == 401
