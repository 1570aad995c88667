"""`manifest.json`: what a render wrote, so validate, publish and rehearse never guess file names."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

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

    def as_dict(self) -> dict[str, object]:
        return {
            "generator": f"mlops-gen {__version__}",
            "home_region": self.home_region,
            "deploy_regions": list(self.deploy_regions),
            "artifacts": [a.as_dict() for a in self.artifacts],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"

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
    except FileNotFoundError:
        raise InputError(
            "DIR", f"{folder} has no {MANIFEST}: render into it first (mlops-gen render --out DIR)"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError("DIR", f"{path} is not a mlops-gen manifest: {exc}") from None
    return Manifest(artifacts, home_region, deploy_regions)
