"""One module per simulated vendor, each adding its ``camfetch sim <vendor>`` command."""
