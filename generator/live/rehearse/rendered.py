"""The render output folder a rehearsal plays: found through its manifest, never by guessing names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.errors import InputError
from generator.iam.resolve import load_template
from generator.manifest import Manifest, verify_manifest

PRODUCT = "product-template"
SEED_BUNDLE = "seed-bundle"
TARGET_ROLE = "target-role-template"
TARGET_ROLE_STACK_SET = "target-role-stackset"


@dataclass(frozen=True)
class Rendered:
    """The files of one render that a rehearsal uses, parsed."""

    folder: Path
    manifest: Manifest
    product: dict[str, Any]
    seed_bundle: bytes
    target_role: dict[str, Any]
    target_role_stack_set: dict[str, Any]

    @property
    def region(self) -> str:
        return self.manifest.home_region


def _path(folder: Path, manifest: Manifest, kind: str) -> Path:
    try:
        return folder / manifest.path_of(kind)
    except KeyError:
        raise InputError("DIR", f"{folder} has no {kind} in its manifest: render it with this mlops-gen") from None


def _template(folder: Path, manifest: Manifest, kind: str) -> dict[str, Any]:
    path = _path(folder, manifest, kind)
    try:
        return load_template(path.read_text(encoding="utf-8"), path.name)
    except FileNotFoundError:
        raise InputError("DIR", f"{path} is listed in the manifest but missing") from None
    except ValueError as exc:
        raise InputError("DIR", f"{path} is not a template: {exc}") from None


def load_rendered(folder: Path) -> Rendered:
    """Read the product, the seed bundle and the target-role templates of a render folder.

    `verify_manifest` refuses (exit 2) a folder whose files do not match their manifest sha256s."""
    manifest = verify_manifest(folder)
    bundle_path = _path(folder, manifest, SEED_BUNDLE)
    try:
        bundle = bundle_path.read_bytes()
    except FileNotFoundError:
        raise InputError("DIR", f"{bundle_path} is listed in the manifest but missing") from None
    return Rendered(
        folder=folder,
        manifest=manifest,
        product=_template(folder, manifest, PRODUCT),
        seed_bundle=bundle,
        target_role=_template(folder, manifest, TARGET_ROLE),
        target_role_stack_set=_template(folder, manifest, TARGET_ROLE_STACK_SET),
    )
