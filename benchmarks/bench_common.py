"""Shared helpers of the benchmarks: machine description and the RESULT lines."""

from __future__ import annotations

import gzip
import json
import platform
import shutil
import subprocess
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


def git_commit() -> str:
    """The short commit of the benchmarks' checkout, with ``+changes`` when tracked files were modified."""
    here = Path(__file__).parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=here,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=here, check=True).stdout.strip()
        return head + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_runs(path: Path) -> dict[tuple[str, str, int], dict]:
    """The runs kept in a JSON-lines file, by (benchmark, method, seed); the last line of a key wins."""
    if not path.is_file():
        return {}
    runs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(r["benchmark"], r["method"], r["seed"]): r for r in runs}
