#!/usr/bin/env bash
# Install everything the tests need from scratch (idempotent) and run them.
# checkov gets its own virtual environment: its pins clash with cfn-lint's and moto's.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,sagemaker]'
if [ ! -x .venv-checkov/bin/checkov ]; then
  "$PY" -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install -q --disable-pip-version-check 'checkov==3.3.30'
fi
export MLOPS_GEN_CHECKOV="$PWD/.venv-checkov/bin/checkov"
exec .venv/bin/python -m pytest -n 2 "$@"
