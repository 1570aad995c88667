"""Cold-start cost of `mlops-gen render --no-validate`: wall time and peak memory of a fresh process.

Each run starts the installed console script as a new process (nothing cached in memory, the
file-system cache warm), renders into a temporary folder and is timed from spawn to exit. Peak RSS
is the child's own `ru_maxrss` from `os.wait4`, not the maximum over all children.

    .venv/bin/python benchmarks/render_bench.py            # median of 5 runs
    .venv/bin/python benchmarks/render_bench.py --check    # exit 1 above the targets

Targets: median under 0.3 s and peak RSS under 100 MB. Results and what dominates: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TARGET_SECONDS = 0.3
TARGET_MB = 100.0
ARGS = [
    "render",
    "--staging-ou",
    "ou-ab12-11111111",
    "--prod-ou",
    "ou-ab12-22222222",
    "--region",
    "eu-west-1",
    "--no-validate",
    "--force",
]


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float


def console_script() -> str:
    """`mlops-gen` next to this interpreter (the venv's), else the one on PATH."""
    found = shutil.which("mlops-gen", path=str(Path(sys.executable).parent)) or shutil.which("mlops-gen")
    if found is None:
        sys.exit("mlops-gen is not installed: pip install -e . first")
    return found


def run_once(script: str, out: Path) -> Run:
    """One cold render; raises if the command fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [script, *ARGS, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"mlops-gen exited {proc.returncode}: {stderr}")
    return Run(seconds, usage.ru_maxrss / 1024)  # ru_maxrss is in KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    options = parser.parse_args()
    script = console_script()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run_once(script, Path(tmp) / "dist") for _ in range(options.runs)]
    median = statistics.median(r.seconds for r in runs)
    peak = max(r.peak_mb for r in runs)
    print(f"command: {script} {' '.join(ARGS)} --out DIR")
    print(f"runs: {', '.join(f'{r.seconds:.3f}' for r in runs)} s")
    print(f"median: {median:.3f} s (target < {TARGET_SECONDS} s)")
    print(f"peak RSS: {peak:.1f} MB (target < {TARGET_MB:.0f} MB)")
    missed = median >= TARGET_SECONDS or peak >= TARGET_MB
    print("result:", "MISSED" if missed else "ok")
    return 1 if options.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
