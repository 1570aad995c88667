"""Editing a render folder in a test: change a file, then re-seal the manifest.

Every command refuses a folder whose manifest sha256s do not match its files
(`generator.manifest.verify_manifest`). Tests that build a failing fixture by editing a rendered file
call `reseal` so that the check under test, not the manifest gate, is what fires.
"""

from __future__ import annotations

import json
from pathlib import Path

from generator.manifest import MANIFEST, sha256


def reseal(folder: Path) -> None:
    """Rewrite `folder/manifest.json`'s sha256s to match the files as they are now."""
    path = folder / MANIFEST
    data = json.loads(path.read_text(encoding="utf-8"))
    for artifact in data["artifacts"]:
        target = folder / artifact["path"]
        if target.is_file():
            artifact["sha256"] = sha256(target.read_bytes())
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
