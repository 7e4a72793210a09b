"""Work done on devices, written against the device interface only.

Nothing here imports a vendor module: a job receives :class:`camfetch.device.Device`
objects and asks them what they can do.
"""
