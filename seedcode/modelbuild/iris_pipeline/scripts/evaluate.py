"""Processing job: accuracy of the trained model on the held-out test set.

Runs in the built-in XGBoost container (`python3 evaluate.py`), which has xgboost, pandas and
numpy. Writes the model-quality report the registry shows with the model package.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BASE = Path("/opt/ml/processing")


def metrics_report(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """SageMaker model-quality JSON: the predicted class is the most probable one."""
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == labels.astype(int)))
    return {"multiclass_classification_metrics": {"accuracy": {"value": accuracy}}}


def main() -> None:
    import xgboost  # only in the container

    with tarfile.open(BASE / "model" / "model.tar.gz") as archive:
        archive.extractall(BASE / "model")  # our own training output; the container's Python may lack `filter`
    booster = xgboost.Booster()
    booster.load_model(str(BASE / "model" / "xgboost-model"))
    test = pd.read_csv(BASE / "test" / "test.csv", header=None)
    probabilities = booster.predict(xgboost.DMatrix(test.iloc[:, 1:].values))
    report = metrics_report(test.iloc[:, 0].values, probabilities)
    (BASE / "evaluation").mkdir(parents=True, exist_ok=True)
    (BASE / "evaluation" / "evaluation.json").write_text(json.dumps(report))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
