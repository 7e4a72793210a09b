"""Device simulators: each vendor's protocol, faithfully, on loopback.

One module per vendor (mirroring :mod:`camfetch.drivers`), sharing a frame
generator, a recording archive, an RTSP server and fault knobs.
"""
