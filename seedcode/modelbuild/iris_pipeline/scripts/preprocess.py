"""Processing job: split the iris CSV into a training and a held-out test set.

Runs in the built-in XGBoost container (`python3 preprocess.py`), so it uses only pandas.
Input rows are label first, no header (the built-in XGBoost CSV format) and stay that way.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

BASE = Path("/opt/ml/processing")


def split(data: pd.DataFrame, test_fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shuffle and split; the test rows never reach training."""
    test = data.sample(frac=test_fraction, random_state=seed)
    return data.drop(test.index), test


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    frames = [pd.read_csv(f, header=None) for f in sorted((BASE / "input").glob("*.csv"))]
    train, test = split(pd.concat(frames, ignore_index=True), args.test_fraction, args.seed)
    for name, frame in (("train", train), ("test", test)):
        (BASE / name).mkdir(parents=True, exist_ok=True)
        frame.to_csv(BASE / name / f"{name}.csv", header=False, index=False)


if __name__ == "__main__":
    main()
