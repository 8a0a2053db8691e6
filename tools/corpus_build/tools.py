"""External tools and seeds shared by the corpus builder's stages."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from detector.utils.keys import stable_seed

SEED = 0


class BuildError(RuntimeError):
    """A prerequisite is missing or an external tool failed."""


def require(tool: str, package: str) -> str:
    """Return the path of ``tool`` or fail with the Debian package that provides it."""
    path = shutil.which(tool)
    if path is None:
        raise BuildError(f"corpus_build: '{tool}' not found on PATH; install it with `apt-get install {package}`")
    return path


def run(cmd: list[str], stdin: bytes | None = None, cwd: Path | None = None) -> bytes:
    """Run ``cmd`` (in folder ``cwd``), return its stdout, raise with its stderr on failure."""
    proc = subprocess.run(cmd, input=stdin, capture_output=True, cwd=cwd)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise BuildError(f"corpus_build: `{' '.join(cmd[:4])} ...` failed ({proc.returncode}): {err}")
    return proc.stdout


def seed_for(key: str) -> int:
    """Stable per-clip seed derived from the global ``SEED`` and a clip key."""
    return stable_seed(SEED, key, bits=32)
