"""The configured devices, opened through the registry and sharing one HTTP pool.

Jobs name cameras as the config does: ``*`` (every channel of every device),
``front-door`` (every configured channel of a device), ``nvr:3`` or
``nvr:Gate`` (one channel, by number or name) and ``group:entrance``. The
fleet turns those into :class:`Target` (device, channel) pairs, asking a device
for its channels when the config does not list them, and asking again later
when a device could not be reached.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass

from camfetch.address import DeviceAddress
from camfetch.device import Device
from camfetch.errors import CamfetchError
from camfetch.http import HttpPool
from camfetch.registry import open_device
from camfetch.service.config import Config, DeviceConfig

#: How long a device that could not list its channels is left alone before asking again.
RETRY_CHANNELS = 60.0


@dataclass(frozen=True, slots=True, order=True)
class Target:
    device: str
    channel: int

    def __str__(self) -> str:
        return f"{self.device}:{self.channel}"


def device_address(cfg: DeviceConfig) -> DeviceAddress:
    """The device's address with the config's password, zone and request limit applied."""
    address = DeviceAddress.parse(cfg.url)
    options = dict(address.options)
    if cfg.time_zone:
        options["tz"] = cfg.time_zone
    if cfg.max_requests:
        options["max_requests"] = str(cfg.max_requests)
    password = cfg.password if cfg.password is not None else address.password
    return dataclasses.replace(address, password=password, options=options)


class Fleet:
    def __init__(self, config: Config, *, pool: HttpPool | None = None) -> None:
        self.config = config
        self.pool = pool or HttpPool()
        self._own_pool = pool is None
        self._devices: dict[str, Device] = {}
        self._channels: dict[str, list[int]] = {}
        self._names: dict[str, dict[str, int]] = {}
        self._failed: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def names(self) -> list[str]:
        return [d.name for d in self.config.devices]

    def device(self, name: str) -> Device:
        device = self._devices.get(name)
        if device is None:
            device = open_device(device_address(self.config.device(name)), pool=self.pool)
            self._devices[name] = device
        return device

    def secrets(self) -> list[str]:
        found: list[str] = []
        for cfg in self.config.devices:
            found += device_address(cfg).secrets()
        return found

    async def channels(self, name: str) -> list[int]:
        """The channels to use on ``name``: configured, or as the device lists them."""
        cfg = self.config.device(name)
        if cfg.channels:
            return list(cfg.channels)
        if name in self._channels:
            return self._channels[name]
        failed = self._failed.get(name)
        if failed is not None and time.monotonic() - failed < RETRY_CHANNELS:
            return []
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            if name in self._channels:
                return self._channels[name]
            try:
                listed = await self.device(name).channels()
            except CamfetchError:
                self._failed[name] = time.monotonic()
                return []
            self._failed.pop(name, None)
            self._channels[name] = [c.number for c in listed]
            self._names[name] = {c.name.casefold(): c.number for c in listed}
            self._names[name].update(
                {(c.title or "").casefold(): c.number for c in listed if c.title}
            )
        return self._channels[name]

    async def resolve(self, refs: list[str]) -> list[Target]:
        """Targets for camera references (unknown devices are config errors, caught earlier)."""
        found: set[Target] = set()
        for ref in refs:
            if ref == "*":
                for name in self.names():
                    found.update(Target(name, ch) for ch in await self.channels(name))
            elif ref.startswith("group:"):
                found.update(await self.resolve(self.config.groups[ref[6:]]))
            else:
                name, sep, channel = ref.partition(":")
                if not sep:
                    found.update(Target(name, ch) for ch in await self.channels(name))
                elif channel.isdigit():
                    found.add(Target(name, int(channel)))
                else:
                    await self.channels(name)
                    number = self._names.get(name, {}).get(channel.casefold())
                    if number is not None:
                        found.add(Target(name, number))
        return sorted(found)

    async def close(self) -> None:
        for device in self._devices.values():
            await device.close()
        if self._own_pool:
            await self.pool.close()
