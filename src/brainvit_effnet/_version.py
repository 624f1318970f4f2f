"""The installed package's version, in a leaf module that any layer may import."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("brainvit-effnet")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
