"""Shared timing helpers for the scripts/bench-* benchmarks.

Each benchmark measures pyperf and its reference tool in the same run,
interleaving them so that noise on this shared machine hits both alike, and
prints ratios rather than absolute times.
"""
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pyperf_binary():
    """The release build of pyperf, built if missing."""
    exe = ROOT / "target" / "release" / "pyperf"
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return str(exe)


def python(minor="3.12"):
    root = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
    found = sorted(root.glob(minor + ".*"), key=lambda p: [int(x) for x in p.name.split(".") if x.isdigit()])
    if not found:
        sys.exit(f"CPython {minor} is not installed under {root}")
    return str(found[-1] / "bin" / "python3")


def run_once(argv, env=None):
    """Wall seconds and peak RSS (KiB) of one run; output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(argv)}")
    return wall, max(after.ru_maxrss, before.ru_maxrss)


def compare(cases, runs=7, warmup=1):
    """Runs every case `runs` times, interleaved; returns {name: [walls]}."""
    results = {name: [] for name, _ in cases}
    for _ in range(warmup):
        for _, argv in cases:
            run_once(argv)
    for _ in range(runs):
        for name, argv in cases:
            results[name].append(run_once(argv)[0])
    return results


def summary(results, baseline):
    base = statistics.median(results[baseline])
    print(f"{'case':<34} {'median s':>10} {'min s':>9} {'ratio':>7}")
    for name, walls in results.items():
        med = statistics.median(walls)
        print(f"{name:<34} {med:>10.4f} {min(walls):>9.4f} {med / base:>7.3f}")
    return {name: statistics.median(w) for name, w in results.items()}
