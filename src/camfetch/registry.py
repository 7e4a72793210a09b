"""Open a device from its URL: the scheme picks the driver."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from camfetch.address import DeviceAddress
from camfetch.device import Device
from camfetch.drivers import BUILTIN
from camfetch.errors import UsageError
from camfetch.http import HttpPool


def schemes() -> dict[str, str]:
    """Every known scheme and the ``module:Class`` that serves it."""
    found = dict(BUILTIN)
    for ep in entry_points(group="camfetch.drivers"):
        found.setdefault(ep.name, ep.value)
    return found


def driver_for(scheme: str) -> type[Device]:
    target = schemes().get(scheme.lower())
    if target is None:
        raise UsageError(f"no driver for {scheme}:// (known: {', '.join(sorted(schemes()))})")
    module_name, _, attr = target.partition(":")
    driver = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(driver, type) and issubclass(driver, Device)):
        raise UsageError(f"{target} is not a camfetch device driver")
    return driver


def open_device(url: str | DeviceAddress, *, pool: HttpPool | None = None) -> Device:
    """A device for ``url``; nothing is sent until a method is called."""
    address = url if isinstance(url, DeviceAddress) else DeviceAddress.parse(url)
    return driver_for(address.scheme)(address, pool)
