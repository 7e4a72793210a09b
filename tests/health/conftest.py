"""Health tests: small, fast simulators (640x360) whose conditions the tests flip."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from camfetch.sim.viewtron import ViewtronSimulator

SIZE = (640, 360)


@pytest.fixture
def yard(make_sim: Callable[..., Any]) -> ViewtronSimulator:
    """A 2-channel v2.0 NVR of its own, so its conditions can be changed freely."""
    sim: ViewtronSimulator = make_sim(api="2.0", kind="nvr", channels=2, name="Yard", size=SIZE)
    return sim


@pytest.fixture
def door(make_sim: Callable[..., Any]) -> ViewtronSimulator:
    """A v1.9 IPC of its own."""
    sim: ViewtronSimulator = make_sim(api="1.9", kind="ipc", name="Door", size=SIZE)
    return sim
