"""Output files written whole or not at all: a temporary sibling renamed into place.

A full disk, a quota or an I/O error while writing leaves no half-written (or 0-byte) file
behind, and the error names the path that was being written.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_output(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Yield a file opened with ``mode`` (``"w"``: UTF-8 text, ``"wb"``: bytes) whose content replaces
    ``path`` only when the block ends without an error.

    Raises:
        OSError: with ``filename`` = ``path`` (the temporary file is removed; ``path`` is untouched).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        raise OSError(err.errno, err.strerror or str(err), str(path)) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (:func:`atomic_output`)."""
    with atomic_output(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
