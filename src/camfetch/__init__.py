"""camfetch: pictures and video out of IP cameras, NVRs, intercoms and video servers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("camfetch")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__"]
