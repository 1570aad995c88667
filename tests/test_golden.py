"""Golden files: each named configuration renders byte for byte what is checked in.

Regenerate with `pytest tests/test_golden.py --update-golden` and review the diff. A zip is kept as a
readable listing (each member's name, size and sha256, then the text of each member), so a change to
the seed bundle shows up in review as a text diff.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import zipfile

import pytest

from generator.render import render_files
from tests.conftest import GOLDEN_DIR, config_params, named_config, rendered_files


def golden_view(path: str, content: bytes) -> tuple[str, bytes]:
    """The golden file name and bytes for one rendered file (zips become a text listing)."""
    if not path.endswith(".zip"):
        return path, content
    lines = [f"sha256 {hashlib.sha256(content).hexdigest()}"]
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        members = archive.infolist()
        for info in members:
            data = archive.read(info)
            lines.append(f"{info.filename} {info.file_size} {hashlib.sha256(data).hexdigest()}")
        for info in members:
            lines += ["", f"==> {info.filename} <==", archive.read(info).decode("utf-8")]
    return f"{path}.contents.txt", ("\n".join(lines) + "\n").encode("utf-8")


@pytest.mark.parametrize("name", config_params())
def test_render_matches_golden(name: str, update_golden: bool) -> None:
    folder = GOLDEN_DIR / name
    files = dict(golden_view(f.path, f.content) for f in rendered_files(named_config(name)))
    if update_golden:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for path, content in files.items():
            (folder / path).write_bytes(content)
    expected = {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.is_dir() else {}
    assert sorted(files) == sorted(expected), f"golden files of {name} differ in names; run --update-golden"
    for path, content in files.items():
        if content != expected[path]:
            diff = difflib.unified_diff(
                expected[path].decode().splitlines(),
                content.decode().splitlines(),
                f"golden/{name}/{path}",
                f"rendered/{path}",
                lineterm="",
                n=2,
            )
            pytest.fail(f"{name}/{path} differs from its golden file:\n" + "\n".join(list(diff)[:80]))


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_render_is_deterministic() -> None:
    first = render_files(named_config("default"))
    second = render_files(named_config("default"))
    assert [(f.path, f.content) for f in first] == [(f.path, f.content) for f in second]
