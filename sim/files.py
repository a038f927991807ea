"""Writing output files: atomically, so that a reader (or a kill) never sees half of one,
and JSON with numpy scalars in it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["write_atomically", "json_default"]

_UMASK = os.umask(0)
os.umask(_UMASK)


def write_atomically(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place.

    The file gets the usual permissions (0666 less the umask), not mkstemp's 0600.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def json_default(value: Any) -> Any:
    """``json.dumps``'s ``default``: a numpy scalar (or 0-d array) as its Python value.

    >>> import json, numpy as np
    >>> json.dumps({"n": np.int64(3), "p": np.float64(0.5)}, default=json_default)
    '{"n": 3, "p": 0.5}'
    """
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
