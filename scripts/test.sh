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
# loadscope: each test file runs on one worker, so its module fixtures (the iris SDK set-up, the wheel, renders)
# are built once, and the bad-input doc reuses its cases' answers. No reorder by test count: conftest puts the
# files with slow tests first, so both workers start on the long ones. (loadgroup would pin only chosen tests,
# but pytest-xdist 3.8 does not group under pytest 9: it renames `item._nodeid`, which pytest 9 no longer reads.)
exec .venv/bin/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder "$@"
