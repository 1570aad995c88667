"""`manifest.json`: what a render wrote, so validate, publish and rehearse never guess file names."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator import __version__
from generator.errors import InputError

MANIFEST = "manifest.json"
#: Kinds that are CloudFormation templates (linted and scanned); others (zips) are not.
TEMPLATE_KINDS = frozenset(
    {
        "product-template",
        "launch-role-template",
        "target-role-template",
        "target-role-stackset",
        "prerequisites-template",
        "portfolio-template",
    }
)


@dataclass(frozen=True)
class Artifact:
    """One rendered file."""

    kind: str
    path: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "path": self.path, "sha256": self.sha256}


@dataclass(frozen=True)
class Manifest:
    """Every artifact of one render, the home region and the regions models deploy to."""

    artifacts: tuple[Artifact, ...]
    home_region: str
    deploy_regions: tuple[str, ...]
    #: The resolved render options (flag names as keys): what later commands read instead of asking again.
    settings: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "generator": f"mlops-gen {__version__}",
            "home_region": self.home_region,
            "deploy_regions": list(self.deploy_regions),
            "settings": dict(self.settings),
            "artifacts": [a.as_dict() for a in self.artifacts],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"

    def setting(self, key: str) -> Any:
        """One render option as render resolved it (None when the manifest predates settings)."""
        return self.settings.get(key)

    def templates(self) -> tuple[Artifact, ...]:
        return tuple(a for a in self.artifacts if a.kind in TEMPLATE_KINDS)

    def path_of(self, kind: str) -> str:
        """The path of the (single) artifact of `kind`."""
        for artifact in self.artifacts:
            if artifact.kind == kind:
                return artifact.path
        raise KeyError(kind)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(folder: Path) -> Manifest:
    """Load `folder/manifest.json`; a missing or malformed one is a user error naming the folder."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        artifacts = tuple(Artifact(a["kind"], a["path"], a["sha256"]) for a in data["artifacts"])
        home_region = data["home_region"]
        deploy_regions = tuple(data["deploy_regions"])
        settings = data.get("settings", {})
        if not isinstance(settings, dict):
            raise TypeError("settings is not an object")
    except FileNotFoundError:
        raise InputError(
            "DIR", f"{folder} has no {MANIFEST}: render into it first (mlops-gen render --out DIR)"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError("DIR", f"{path} is not a mlops-gen manifest: {exc}") from None
    return Manifest(artifacts, home_region, deploy_regions, settings)


def inside(folder: Path, relative: str) -> bool:
    """True when `relative` names a file below `folder`: no absolute path, no `..`, no link out."""
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts or not candidate.parts:
        return False
    root = folder.resolve()
    return (root / candidate).resolve().is_relative_to(root)


def _readable_zip(data: bytes) -> bool:
    """A zip whose every member reads back with its CRC (a corrupt bundle would fail at launch)."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return False


def verify_manifest(folder: Path) -> Manifest:
    """The one gate every command that reads a render output passes first.

    The manifest must parse, every listed path must stay inside `folder` and exist, and every file's
    sha256 must match: a hand-edited or half-copied folder is refused (exit 2) before any check,
    rehearsal or upload trusts it. To change a rendered file, change the render options and render again.
    """
    if folder.exists() and not folder.is_dir():
        raise InputError("DIR", f"{folder} is a file; give the folder `mlops-gen render --out` wrote")
    manifest = read_manifest(folder)
    problems: list[str] = []
    for artifact in manifest.artifacts:
        if not inside(folder, artifact.path):
            problems.append(f"{artifact.path!r} is outside the folder (absolute or with '..')")
            continue
        path = folder / artifact.path
        if not path.is_file():
            problems.append(f"{artifact.path} is listed but missing")
        elif sha256(data := path.read_bytes()) != artifact.sha256:
            problems.append(f"{artifact.path} was changed after the render (sha256 differs)")
        elif artifact.path.endswith(".zip") and not _readable_zip(data):
            problems.append(f"{artifact.path} is not a readable zip archive")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise InputError(
            "DIR",
            f"{folder}/{MANIFEST} does not match the folder: {shown}. Render again (mlops-gen render --out "
            f"{folder} --force) rather than editing rendered files",
        )
    return manifest
