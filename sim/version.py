"""The installed package's version (``persona-sim``), recorded in every output folder."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("persona-sim")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = ["__version__"]
