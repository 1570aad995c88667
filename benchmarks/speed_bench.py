"""CPU time and peak memory of mlops-gen's commands, run as whole processes (issue 15).

Each measurement starts a fresh `python -m generator ...` and reads the child's CPU time (user + system)
and peak RSS from `os.wait4`, which include the child's own children (rehearse's build scripts, the CDK
CLI's node). CPU time, not wall time: the machine is shared, so wall times are noisy, while a
process's CPU time barely moves with the load. With `--baseline SRC` every command also runs against
an older source tree (PYTHONPATH=SRC, same interpreter), alternating run by run, and the table shows
the ratio. With `--anchor DIR` (a CDK app folder, `cdk` on PATH) it times the anchor's `cdk synth` and our
validated render (cache cold and warm), alternating run by run. With `--grid` it rehearses a grid of
accounts x regions and plots CPU time against the number of stack instances (PNG, matplotlib:
`pip install 'mlops-gen[bench]'`).

    python benchmarks/speed_bench.py --runs 5 --baseline /tmp/old-checkout
    python benchmarks/speed_bench.py --grid --plot benchmarks/rehearse-grid.png
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASE = ["--staging-ou", "ou-ab12-11111111", "--prod-ou", "ou-ab12-22222222", "--region", "eu-west-1"]
REGIONS_16 = (
    "eu-west-1,us-east-1,us-east-2,us-west-1,us-west-2,ca-central-1,eu-west-2,eu-west-3,eu-central-1,"
    "eu-north-1,ap-south-1,ap-northeast-1,ap-northeast-2,ap-southeast-1,ap-southeast-2,sa-east-1"
)
REGIONS = REGIONS_16.split(",")


@dataclass(frozen=True)
class Sample:
    """One finished process: CPU seconds (user + system, children included), peak RSS, wall seconds."""

    cpu_s: float
    rss_mb: float
    wall_s: float
    exit_code: int


def measure(argv: Sequence[str], env: dict[str, str], cwd: Path) -> Sample:
    """Run `argv` to the end and read its resource usage from wait4 (not the whole benchmark's)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Sample(usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, time.perf_counter() - start, proc.returncode)


def environment(source: Path, cache: Path) -> dict[str, str]:
    """The source tree to run and a result cache of the benchmark's own (never the user's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return env | {"PYTHONPATH": str(source), "MLOPS_GEN_CACHE_DIR": str(cache)}


def mlops_gen(*args: str) -> list[str]:
    return [sys.executable, "-m", "generator", *args]


@dataclass(frozen=True)
class Case:
    """A command to time; `prepare` runs before each measured run (not timed), e.g. to warm a cache."""

    name: str
    argv: list[str]
    prepare: list[str] | None = None
    fresh_cache: bool = False


def cases(work: Path) -> list[Case]:
    out, out16, rh = work / "out", work / "out16", work / "rh"
    render = [*BASE, "--force"]
    return [
        Case("render --no-validate", mlops_gen("render", *render, "--no-validate", "--out", str(out))),
        Case("render (validates; cold cache)", mlops_gen("render", *render, "--out", str(out)), fresh_cache=True),
        Case(
            "render (validates; warm cache)",
            mlops_gen("render", *render, "--out", str(out)),
            prepare=mlops_gen("render", *render, "--out", str(out)),
        ),
        Case(
            "validate DIR (unchanged folder, warm cache)",
            mlops_gen("validate", str(out)),
            prepare=mlops_gen("validate", str(out)),
        ),
        Case("validate --no-cache DIR (1 region)", mlops_gen("validate", "--no-cache", str(out))),
        Case(
            "validate --no-cache DIR (16 regions)",
            mlops_gen("validate", "--no-cache", str(out16)),
            prepare=mlops_gen("render", *render, "--deploy-regions", REGIONS_16, "--no-validate", "--out", str(out16)),
        ),
        Case(
            "rehearse --approve (1 region, 2 accounts/OU)",
            mlops_gen("rehearse", str(rh), "--approve", "--json"),
            prepare=mlops_gen("render", *render, "--no-validate", "--out", str(rh)),
        ),
    ]


def strip_cache_flags(argv: list[str], baseline: bool) -> list[str]:
    """The baseline may predate `--no-cache`: it never cached, so the flag is simply dropped."""
    return [a for a in argv if not (baseline and a == "--no-cache")]


def run_table(runs: int, sources: dict[str, Path], only: Sequence[str]) -> dict[str, dict[str, list[Sample]]]:
    """Median-ready samples per case and source tree, the trees alternating run by run."""
    results: dict[str, dict[str, list[Sample]]] = {}
    with tempfile.TemporaryDirectory(prefix="mlops-gen-bench-") as tmp:
        work = Path(tmp)
        for case in cases(work):
            if only and not any(word in case.name for word in only):
                continue
            results[case.name] = {label: [] for label in sources}
            for _ in range(runs):
                for label, source in sources.items():
                    cache = work / f"cache-{label}"
                    if case.fresh_cache:
                        shutil.rmtree(cache, ignore_errors=True)
                    env = environment(source, cache)
                    baseline = label != "this"
                    if case.prepare:
                        measure(strip_cache_flags(case.prepare, baseline), env, work)
                    sample = measure(strip_cache_flags(case.argv, baseline), env, work)
                    results[case.name][label].append(sample)
                    print(f"{case.name} [{label}]: {sample.cpu_s:.2f} s CPU, {sample.rss_mb:.0f} MB", file=sys.stderr)
    return results


def anchor_synth(anchor: Path, runs: int) -> dict[str, list[Sample]]:
    """The CDK anchor's `cdk synth` (its app folder; `cdk` and the app's `python3` on PATH) and our validated
    render with a cold and a warm cache, alternating run by run so that both see the same load: the
    comparison issue 15 asks for. The CLI's telemetry and notices are off (no network in the timing)."""
    cdk = shutil.which("cdk")
    if cdk is None:
        raise SystemExit("--anchor needs the AWS CDK CLI on PATH (npm install aws-cdk; see benchmarks/README.md)")
    samples: dict[str, list[Sample]] = {"anchor": [], "ours cold": [], "ours warm": []}
    with tempfile.TemporaryDirectory(prefix="cdk-out-") as out, tempfile.TemporaryDirectory(prefix="ours-") as tmp:
        work = Path(tmp)
        render = mlops_gen("render", *BASE, "--force", "--out", str(work / "out"))
        anchor_env = dict(os.environ) | {"CDK_DISABLE_CLI_TELEMETRY": "true"}
        for _ in range(runs):
            shutil.rmtree(work / "cache", ignore_errors=True)
            env = environment(REPO, work / "cache")
            samples["ours cold"].append(measure(render, env, work))
            samples["ours warm"].append(measure(render, env, work))
            samples["anchor"].append(
                measure([cdk, "synth", "--quiet", "--no-notices", "--output", out], anchor_env, anchor)
            )
            print(
                "anchor {:.2f} s CPU, ours cold {:.2f} s, warm {:.2f} s".format(
                    *(s[-1].cpu_s for s in samples.values())
                ),
                file=sys.stderr,
            )
    return samples


def median(samples: list[Sample], field: str) -> float:
    return float(statistics.median(getattr(s, field) for s in samples))


def table(results: dict[str, dict[str, list[Sample]]]) -> str:
    labels = list(next(iter(results.values())))
    head = "| command | " + " | ".join(f"CPU ({label}) | peak RSS ({label})" for label in labels)
    ratio = len(labels) > 1
    lines = [head + (" | CPU ratio |" if ratio else " |"), "|---" * (1 + 2 * len(labels) + ratio) + "|"]
    for name, by_label in results.items():
        cells = [
            f"{median(by_label[label], 'cpu_s'):.2f} s | {median(by_label[label], 'rss_mb'):.0f} MB" for label in labels
        ]
        row = f"| `{name}` | " + " | ".join(cells)
        if ratio:
            row += f" | {median(by_label[labels[1]], 'cpu_s') / median(by_label[labels[0]], 'cpu_s'):.1f}x"
        lines.append(row + " |")
    return "\n".join(lines)


def rehearse_grid(accounts: Sequence[int], regions: Sequence[int], source: Path) -> list[dict[str, float]]:
    """Rehearse each (accounts per OU, regions) once; a stack instance is one account in one region,
    two stages, so accounts x regions x 2 instances per deployment."""
    points = []
    with tempfile.TemporaryDirectory(prefix="mlops-gen-grid-") as tmp:
        work = Path(tmp)
        env = environment(source, work / "cache")
        for n_regions in regions:
            out = work / f"r{n_regions}"
            render = ["render", *BASE, "--deploy-regions", ",".join(REGIONS[:n_regions]), "--no-validate"]
            measure(mlops_gen(*render, "--out", str(out)), env, work)
            for n_accounts in accounts:
                argv = mlops_gen("rehearse", str(out), "--approve", "--accounts-per-ou", str(n_accounts), "--json")
                sample = measure(argv, env, work)
                instances = n_accounts * n_regions * 2
                point = {"accounts_per_ou": n_accounts, "regions": n_regions, "instances": instances}
                points.append(point | asdict(sample))
                print(
                    f"rehearse {n_accounts} accounts/OU x {n_regions} regions: {sample.cpu_s:.1f} s CPU",
                    file=sys.stderr,
                )
    return points


def slope(points: list[dict[str, float]]) -> tuple[float, float]:
    """Least-squares CPU seconds = a + b * instances: the fixed cost and the cost per stack instance."""
    xs = [p["instances"] for p in points]
    ys = [p["cpu_s"] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def plot(points: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a, b = slope(points)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for n_regions in sorted({p["regions"] for p in points}):
        row = sorted((p for p in points if p["regions"] == n_regions), key=lambda p: p["instances"])
        ax.plot([p["instances"] for p in row], [p["cpu_s"] for p in row], "o-", label=f"{n_regions:.0f} region(s)")
    top = max(p["instances"] for p in points)
    ax.plot([0, top], [a, a + b * top], "k--", linewidth=1, label=f"fit: {a:.1f} s + {b:.2f} s x instances")
    ax.set_xlabel("stack instances per deployment (accounts per OU x regions x 2 stages)")
    ax.set_ylabel("CPU time of `mlops-gen rehearse --approve` (s)")
    ax.set_title("Rehearsal cost against accounts x regions")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="an older source tree to compare against (PYTHONPATH)")
    parser.add_argument("--anchor", type=Path, help="a CDK app folder: time its `cdk synth` too")
    parser.add_argument("--only", nargs="*", default=[], help="only the commands whose name contains a word")
    parser.add_argument("--grid", action="store_true", help="also rehearse accounts x regions (slow)")
    parser.add_argument("--no-table", action="store_true", help="skip the command table (with --grid)")
    parser.add_argument("--accounts", default="2,10,20")
    parser.add_argument("--regions", default="1,4")
    parser.add_argument("--plot", type=Path, default=REPO / "benchmarks" / "rehearse-grid.png")
    parser.add_argument("--json", type=Path, help="write every sample here")
    args = parser.parse_args(argv)
    record: dict[str, object] = {}
    if not args.no_table:
        sources = {"this": REPO} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
        results = run_table(args.runs, sources, args.only)
        print(table(results))
        record["table"] = {k: {label: [asdict(s) for s in v] for label, v in by.items()} for k, by in results.items()}
    if args.anchor:
        synth = anchor_synth(args.anchor, args.runs)
        cpu = median(synth["anchor"], "cpu_s")
        print(f"\nCDK anchor `cdk synth`: {cpu:.2f} s CPU, {median(synth['anchor'], 'rss_mb'):.0f} MB peak RSS")
        for label in ("ours cold", "ours warm"):
            ours = median(synth[label], "cpu_s")
            print(
                f"render, {label} cache: {ours:.2f} s CPU, {median(synth[label], 'rss_mb'):.0f} MB: {cpu / ours:.1f}x"
            )
        record["anchor"] = {label: [asdict(s) for s in samples] for label, samples in synth.items()}
    if args.grid:
        accounts = [int(n) for n in args.accounts.split(",")]
        regions = [int(n) for n in args.regions.split(",")]
        points = rehearse_grid(accounts, regions, REPO)
        a, b = slope(points)
        print(f"\nrehearse: {a:.1f} s + {b:.3f} s CPU per stack instance (least squares over {len(points)} runs)")
        plot(points, args.plot)
        record["grid"] = points
    if args.json:
        args.json.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
