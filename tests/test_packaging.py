"""The wheel `pip install .` builds ships everything render needs (seed code, Jinja sources, lint rules,
IAM data), and a render from the installed copy (not the checkout) gives the same files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # builds the wheel and renders from an installed copy


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("mlops_gen-*.whl")
    return built


def test_wheel_ships_seed_code_templates_rules_and_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = [
        "generator/seedcode/modeldeploy/build.py",
        "generator/seedcode/modeldeploy/test/test.py",
        "generator/seedcode/modeldeploy/endpoint-config-template.yml",
        "generator/templates/modeldeploy/buildspec.yml.j2",
        "generator/checks/lint_rules/ActionConfigurationKeys.py",
        "generator/data/standard-launch-role-policy.json",
    ]
    # Every module of the package, whatever subpackage it is in.
    expected += [
        p.relative_to(ROOT).as_posix() for p in (ROOT / "generator").rglob("*.py") if "__pycache__" not in p.parts
    ]
    missing = [n for n in expected if n not in names]
    assert not missing, f"the wheel lacks {missing}"


def test_render_from_the_installed_wheel_matches_the_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import generator.product.seed as s; assert str(s.SEED_DIR).startswith(sys.argv[1]), s.SEED_DIR;"
        "from generator.render import render_files; from generator.config import build_config;"
        "cfg = build_config({'staging-ou': 'ou-ab12-11111111', 'prod-ou': 'ou-ab12-22222222', 'region': 'eu-west-1'});"
        "import hashlib; print(sorted((f.path, hashlib.sha256(f.content).hexdigest()) for f in render_files(cfg)))"
    )
    installed = subprocess.run(
        [sys.executable, "-c", code, str(site)], check=True, capture_output=True, text=True, cwd=tmp_path
    ).stdout
    import hashlib

    from generator.config import build_config
    from generator.render import render_files

    cfg = build_config({"staging-ou": "ou-ab12-11111111", "prod-ou": "ou-ab12-22222222", "region": "eu-west-1"})
    here = sorted((f.path, hashlib.sha256(f.content).hexdigest()) for f in render_files(cfg))
    assert installed.strip() == str(here)
