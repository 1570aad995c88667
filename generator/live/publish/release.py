"""What DIR holds for publish: the rendered files it uploads, checked against the manifest, and their region.

The bytes are checked against the manifest's sha256 because uploads go to content-addressed keys:
publish must upload exactly what was rendered (and validated), never a file edited since.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.errors import InputError
from generator.manifest import Manifest, sha256, verify_manifest
from generator.product.org_id import ORG_ID_PARAMETER


@dataclass(frozen=True)
class LocalFile:
    """One rendered file to upload."""

    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return sha256(self.data)


@dataclass(frozen=True)
class Release:
    """What DIR holds for publish: the product template, the seed bundle and where it must live."""

    home_region: str
    template: LocalFile
    seed: LocalFile | None
    seed_key: str | None
    #: The generated launch role's name; None: the product is built for the standard launch role.
    launch_role_name: str | None
    #: The template that creates it (relative to DIR), for the message when the role is missing.
    launch_role_template: str | None = None
    #: The product's `OrganizationId` default (`render --org-id`); None: the render has none.
    org_id: str | None = None


def _read_checked(folder: Path, manifest: Manifest, kind: str) -> LocalFile:
    path = manifest.path_of(kind)
    data = (folder / path).read_bytes()
    expected = next(a.sha256 for a in manifest.artifacts if a.kind == kind)
    if sha256(data) != expected:
        raise InputError("DIR", f"{folder / path} changed since it was rendered (sha256 differs): render again")
    return LocalFile(Path(path).name, data)


def _decode(file: LocalFile) -> dict[str, Any]:
    from cfnlint.decode import decode_str

    template, problems = decode_str(file.data.decode("utf-8"))
    if problems or not isinstance(template, dict):
        raise InputError("DIR", f"{file.name} is not a readable CloudFormation template")
    return template


def _default(template: Mapping[str, Any], parameter: str) -> str | None:
    value = template.get("Parameters", {}).get(parameter, {}).get("Default")
    return str(value) if value is not None else None


def load_release(folder: Path, bucket: str) -> Release:
    """Read DIR's manifest and files; refuse a render whose product cannot find its seed bundle in `bucket`.

    The product's `SeedCodeBucket` default is fixed at render time (`render --seed-bucket`) because
    the template is content-addressed: publish uploads the bytes that were rendered and never edits
    them. Without a default, every Studio user would have to type the bucket at launch, so publish
    requires the render's `--seed-bucket` to be the bucket it uploads the bundle to.
    """
    from generator.product.seed import bundle_key

    manifest = verify_manifest(folder)
    kinds = {a.kind for a in manifest.artifacts}
    if "product-template" not in kinds:
        raise InputError("DIR", f"{folder} has no product template in its manifest: render into it first")
    template = _read_checked(folder, manifest, "product-template")
    parameters = _decode(template)
    seed = seed_key = None
    # A CodeCommit product creates its repository from the bundle; other sources do not read it.
    if "seed-bundle" in kinds and "SeedCodeKey" in parameters.get("Parameters", {}):
        seed = _read_checked(folder, manifest, "seed-bundle")
        seed_bucket = _default(parameters, "SeedCodeBucket")
        if seed_bucket is None:
            raise InputError(
                "--bucket",
                f"the product in {folder} has no SeedCodeBucket default, so Studio users would have to type it: "
                f"render again with --seed-bucket {bucket}",
            )
        if seed_bucket != bucket:
            raise InputError(
                "--bucket",
                f"the product in {folder} reads its seed bundle from bucket {seed_bucket!r}: "
                f"publish with --bucket {seed_bucket} or render again with --seed-bucket {bucket}",
            )
        seed_key = _default(parameters, "SeedCodeKey")
        if seed_key != bundle_key(seed.data):
            raise InputError("DIR", f"the product's SeedCodeKey {seed_key!r} does not name {seed.name}: render again")
    launch_role_name = launch_role_template = None
    if "launch-role-template" in kinds:
        launch_role_template = manifest.path_of("launch-role-template")
        role_template = _decode(_read_checked(folder, manifest, "launch-role-template"))
        launch_role_name = str(role_template["Resources"]["LaunchRole"]["Properties"]["RoleName"])
    org_id = _default(parameters, ORG_ID_PARAMETER)
    return Release(manifest.home_region, template, seed, seed_key, launch_role_name, launch_role_template, org_id)


def resolve_region(flag: str | None, release: Release) -> str:
    """The region to publish in: the render's home region; `--region` may only repeat it."""
    if flag is not None and flag != release.home_region:
        raise InputError(
            "--region",
            f"the product was rendered for {release.home_region} (its pipeline runs there): publish in "
            f"{release.home_region}, or render again with --region {flag}",
        )
    return release.home_region
