"""Shared helpers of the benchmarks: machine description and the RESULT lines."""

from __future__ import annotations

import gzip
import platform
import shutil
from pathlib import Path

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (or the machine type elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def print_results(results: list[tuple[str, float, str, float]], digits: int = 3) -> bool:
    """Print ``RESULT name=value target<op><target> PASS|FAIL`` lines; True when all pass."""
    ok = True
    for name, value, op, target in results:
        passed = value >= target if op == ">=" else value <= target
        ok &= passed
        print(f"RESULT {name}={value:.{digits}f} target{op}{target} {'PASS' if passed else 'FAIL'}")
    return ok


def fashion_root(work: Path) -> str | None:
    """A torchvision root with Debian's Fashion-MNIST files (``dataset-fashion-mnist``) unpacked under
    ``work``, or None when the package is not installed."""
    if not DEBIAN_FASHION.is_dir():
        return None
    root = work / "fashion-root"
    raw = root / "FashionMNIST" / "raw"
    if not raw.is_dir():
        raw.mkdir(parents=True)
        for gz in DEBIAN_FASHION.glob("*.gz"):
            with gzip.open(gz) as src, open(raw / gz.name.removesuffix(".gz"), "wb") as dst:
                shutil.copyfileobj(src, dst)
    return str(root)
