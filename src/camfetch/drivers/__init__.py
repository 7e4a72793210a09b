"""Device drivers, one module per vendor, registered by URL scheme.

A driver module defines a :class:`camfetch.device.Device` subclass; this table
maps each URL scheme to it, imported only when a URL of that scheme is opened.
Other packages add schemes through the ``camfetch.drivers`` entry-point group.
"""

BUILTIN: dict[str, str] = {
    "viewtron": "camfetch.drivers.viewtron:ViewtronDevice",
    "amcrest": "camfetch.drivers.amcrest:AmcrestDevice",
    "dahua": "camfetch.drivers.amcrest:AmcrestDevice",
    "2n": "camfetch.drivers.two_n:TwoNDevice",
    "watcher": "camfetch.drivers.flussonic:WatcherDevice",
    "flussonic": "camfetch.drivers.flussonic:FlussonicDevice",
}
