"""The ``camfetch`` command line."""
