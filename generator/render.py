"""Render: config in, files out. Pure up to `write_output`, which is atomic.

Files are rendered in memory, written to a temporary folder beside `--out`, validated there,
and only then moved into place: a failed render or validation leaves nothing behind. `--force`
replaces only a previous render's own files (see `check_out_dir`): never a file mlops-gen did not write.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from generator.config import RenderConfig
from generator.errors import InputError, ValidationFailed
from generator.manifest import MANIFEST, Artifact, Manifest, inside, read_manifest, sha256
from generator.progress import SILENT, Steps
from generator.rendered import RenderedFile, template_file


def product_files(cfg: RenderConfig) -> list[RenderedFile]:
    """The product template and the seed bundle its CodeCommit repository starts from.

    One renderer for both: `SeedCodeKey` defaults to the bundle's content-addressed key (a new bundle
    never replaces an old one), so the bundle is built once and used twice.
    """
    from generator.contract import SEED_BUNDLE
    from generator.product.compose import build_product
    from generator.product.seed import build_bundle, bundle_key

    bundle = build_bundle(cfg)
    product = build_product(cfg, seed_key=bundle_key(bundle))
    return [
        template_file("product-template", "product-template", product, cfg),
        RenderedFile("seed-bundle", SEED_BUNDLE, bundle),
    ]


def launch_role_files(cfg: RenderConfig) -> list[RenderedFile]:
    from generator.companions.launch_role import launch_role_files as files

    return files(cfg)


def bootstrap_files(cfg: RenderConfig) -> list[RenderedFile]:
    """Templates an administrator deploys once: target role (and its stack set), prerequisites, portfolio."""
    from generator.companions.portfolio import portfolio_files
    from generator.companions.prerequisites import prerequisites_files
    from generator.companions.target_role import target_role_files

    return target_role_files(cfg) + prerequisites_files(cfg) + portfolio_files(cfg)


#: Each entry renders one family of artifacts; later features add theirs here.
RENDERERS: tuple[Callable[[RenderConfig], list[RenderedFile]], ...] = (
    product_files,
    launch_role_files,
    bootstrap_files,
)


def render_files(cfg: RenderConfig) -> list[RenderedFile]:
    """Every output file for `cfg`, sorted by path (pure: no I/O, no AWS)."""
    files = [f for renderer in RENDERERS for f in renderer(cfg)]
    return sorted(files, key=lambda f: f.path)


def build_manifest(cfg: RenderConfig, files: list[RenderedFile]) -> Manifest:
    artifacts = tuple(Artifact(f.kind, f.path, sha256(f.content)) for f in files)
    return Manifest(artifacts, cfg.region, cfg.deploy_regions, cfg.settings())


def check_out_dir(out: Path, force: bool) -> tuple[str, ...]:
    """What `render` may replace in `out`: nothing, or (with --force) the files of a previous render.

    Refuses a file in the way, an unwritable parent, a non-empty folder without --force, and with
    --force any folder that is not a previous render output or that holds anything its manifest does
    not list (or a listed file edited since): mlops-gen never deletes or overwrites a file it did not write.
    """
    if out.exists() and not out.is_dir():
        raise InputError("--out", f"{out} exists and is not a folder")
    blocking = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise InputError("--out", f"cannot create {out}: {blocking} is a file, not a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return ()
    if not force:
        raise InputError("--out", f"{out} is not empty; pass --force to replace a previous render there")
    return _previous_render(out)


def _previous_render(out: Path) -> tuple[str, ...]:
    """The paths a previous render wrote in `out` (manifest included), if `out` holds nothing else."""
    if not (out / MANIFEST).is_file():
        raise InputError(
            "--out",
            f"--force replaces only a previous render output, and {out} has no {MANIFEST} of mlops-gen "
            f"(it holds {_sample(p.name for p in out.iterdir())}); choose an empty or new folder",
        )
    try:
        previous = read_manifest(out)
    except InputError:
        raise InputError(
            "--out", f"--force replaces only a previous render output, and {out / MANIFEST} is not mlops-gen's"
        ) from None
    outside = sorted(a.path for a in previous.artifacts if not inside(out, a.path))
    if outside:
        raise InputError(
            "--out",
            f"{out / MANIFEST} lists paths outside the folder ({_sample(outside)}): it is not a render output "
            "mlops-gen would trust; choose an empty or new folder",
        )
    ours = {MANIFEST} | {a.path for a in previous.artifacts}
    present = {p.relative_to(out).as_posix() for p in out.rglob("*") if not p.is_dir()}
    foreign = sorted(present - ours)
    edited = sorted(
        a.path
        for a in previous.artifacts
        if (out / a.path).is_file() and sha256((out / a.path).read_bytes()) != a.sha256
    )
    if foreign or edited:
        what = ([f"not written by mlops-gen: {_sample(foreign)}"] if foreign else []) + (
            [f"edited since the render: {_sample(edited)}"] if edited else []
        )
        raise InputError(
            "--out",
            f"--force replaces only what a previous render wrote, and {out} also holds files "
            f"{'; '.join(what)}. Move them away or choose another folder; nothing was changed",
        )
    return tuple(sorted(present))


def _sample(names: Iterable[str], most: int = 5) -> str:
    names = sorted(names)
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def write_output(
    files: list[RenderedFile],
    manifest: Manifest,
    out: Path,
    force: bool,
    validate: Callable[[Path], None] | None = None,
) -> None:
    """Write into a temporary sibling of `out`, run `validate` on it, then move the files into place."""
    out = Path(os.path.abspath(out))  # `--out .` has no name to put a sibling beside
    replaced = check_out_dir(out, force)
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        # Not tempfile.mkdtemp: its 0700 mode would stay on a new folder; mkdir honours the umask.
        staging = parent / f".{out.name}-{secrets.token_hex(4)}.tmp"
        staging.mkdir()
    except OSError as exc:
        raise InputError("--out", f"cannot write to {parent}: {exc.strerror or exc}") from None
    try:
        for f in files:
            target = staging / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.content)
        (staging / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        if validate is not None:
            validate(staging)
        _move_into(staging, out, replaced)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into(staging: Path, out: Path, replaced: tuple[str, ...]) -> None:
    """Move the finished files into `out`; a new `out` is the staging folder renamed.

    An existing `out` stays the same folder (its mode and owner kept): the previous render's files
    that the new one does not write again are removed, the others replaced one by one (`os.replace`).
    """
    if not out.exists():
        staging.rename(out)
        return
    fresh = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if not p.is_dir())
    try:
        for path in set(replaced) - set(fresh):
            (out / path).unlink(missing_ok=True)
        for path in fresh:
            (out / path).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / path, out / path)
    except OSError as exc:
        raise InputError("--out", f"cannot write to {out}: {exc.strerror or exc}") from None
    for folder in sorted({(out / p).parent for p in replaced}, key=lambda p: len(p.parts), reverse=True):
        if folder != out and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def validation_step(folder: Path, steps: Steps = SILENT, use_cache: bool = True) -> None:
    """The validate hook `render` uses: any finding fails the render, except the IAM kinds about
    things outside the rendered files (`Finding.blocks_render`; `mlops-gen validate` reports those).
    `use_cache=False` (`--no-cache`) runs every check afresh (generator/checks/cache.py)."""
    from generator.checks.cache import user_cache
    from generator.checks.validate import validate_dir

    findings = [f for f in validate_dir(folder, steps, user_cache(use_cache)) if f.blocks_render]
    if findings:
        lines = "\n".join(f"  {f.path}:{f.line} {f.rule} {f.message}" for f in findings)
        raise ValidationFailed(f"validation failed, nothing was written:\n{lines}")
