"""GnuSpeech (articulatory synthesis: a tube model of the vocal tract) as a spoof TTS family.

The engine is npm's ``@echogarden/gnuspeech-wasm`` (a WebAssembly build of gnuspeech_sa,
GPL-3.0, English only), run by Node (``gnuspeech_say.mjs`` beside this file), which
synthesises a batch of texts in one process: starting Node and compiling the
WebAssembly costs about 0.5 s of CPU, more than a 4 s utterance takes to synthesise
(measured on 10 English sentences, 42 s of speech: 0.05 s of CPU per second of speech
in one batch, 0.165 with one Node process per sentence).

Voices: the package's five vocal-tract sizes, ``VOICES``. Output: 16-bit mono at
44.1 kHz. GnuSpeech draws one random seed per utterance (random intonation, pitch
drift); the script answers it from the request's seed, which defaults to a stable hash
of (voice, text), so the same text gives the same samples.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tools.corpus_build.tools import BuildError, require, run, seed_for

PACKAGE = "@echogarden/gnuspeech-wasm"
VERSION = "0.3.0"
# Its one dependency, pinned too (the package asks for ^0.4.0).
DEPENDENCIES = {"wasm-heap-manager": "0.4.1"}
VOICES = ("male", "female", "large_child", "small_child", "baby")
SCRIPT = Path(__file__).with_name("gnuspeech_say.mjs")


class GnuSpeechError(BuildError):
    """GnuSpeech wrote no audio for one text of a batch (``index`` is its position)."""

    def __init__(self, index: int, text: str, message: str) -> None:
        super().__init__(f"corpus_build: GnuSpeech failed on text {index} ({text!r}): {message}")
        self.index = index


def package_dir(npm_folder: Path) -> Path:
    return npm_folder / "node_modules" / PACKAGE


def installed_version(npm_folder: Path) -> str | None:
    """The version of the package installed under ``npm_folder``, or None."""
    manifest = package_dir(npm_folder) / "package.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text(encoding="utf-8")).get("version")


def install_command(npm_folder: Path) -> list[str]:
    """The npm command that installs the pinned package (and its pinned dependency) into ``npm_folder``."""
    specs = [f"{PACKAGE}@{VERSION}"] + [f"{name}@{v}" for name, v in DEPENDENCIES.items()]
    return ["npm", "install", "--prefix", str(npm_folder), "--save-exact", "--no-audit", "--no-fund", *specs]


def install_gnuspeech(folder: Path) -> Path:
    """Install the pinned GnuSpeech package into ``folder`` (skipped when it is there); returns ``folder``."""
    folder = Path(folder)
    if installed_version(folder) == VERSION:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    cmd = install_command(folder)
    run([require("npm", "npm"), *cmd[1:]])
    if installed_version(folder) != VERSION:
        raise BuildError(f"corpus_build: `npm install` did not leave {PACKAGE}@{VERSION} in {folder}")
    return folder


def default_seed(voice: str, text: str) -> int:
    """The per-utterance seed used when the caller gives none: stable in (voice, text)."""
    return seed_for(f"gnuspeech/{voice}/{text}")


def request_lines(texts: Sequence[str], voice: str, seeds: Sequence[int] | None = None) -> str:
    """The script's stdin: one JSON request per text (texts flattened to one line each)."""
    if voice not in VOICES:
        raise ValueError(f"corpus_build: no GnuSpeech voice {voice!r} (have: {', '.join(VOICES)})")
    if seeds is None:
        seeds = [default_seed(voice, t) for t in texts]
    if len(seeds) != len(texts):
        raise ValueError("corpus_build: one seed per text")
    return "".join(json.dumps({"text": " ".join(t.split()), "voice": voice, "seed": int(s) % 2**32}) + "\n"
                   for t, s in zip(texts, seeds))


def parse_results(stdout: str, texts: Sequence[str]) -> list[Path | GnuSpeechError]:
    """The script's stdout -> per text, its WAV path or the error it reported (in input order)."""
    out: list[Path | GnuSpeechError | None] = [None] * len(texts)
    for line in stdout.splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        i = item["index"]
        out[i] = Path(item["wav"]) if "wav" in item else GnuSpeechError(i, texts[i], item["error"])
    missing = [i for i, x in enumerate(out) if x is None]
    if missing:
        raise BuildError(f"corpus_build: GnuSpeech script answered no result for texts {missing[:10]}")
    return out  # type: ignore[return-value]


def synthesize_gnuspeech_batch(texts: Sequence[str], npm_folder: Path, voice: str = "male",
                               seeds: Sequence[int] | None = None,
                               skip_errors: bool = False) -> list[tuple[np.ndarray, int] | None]:
    """Synthesise ``texts`` in one Node process: per text (mono float64 wave in [-1, 1], Hz).

    ``seeds`` (one per text) default to ``default_seed(voice, text)``. A text the engine
    fails on raises ``GnuSpeechError``, or gives None with ``skip_errors``.
    """
    import soundfile as sf

    if not texts:
        return []
    if installed_version(Path(npm_folder)) is None:
        raise BuildError(f"corpus_build: {PACKAGE} is not installed in {npm_folder}; "
                         f"run `{' '.join(install_command(Path(npm_folder)))}`")
    stdin = request_lines(texts, voice, seeds)
    with tempfile.TemporaryDirectory(prefix="gnuspeech-") as out_dir:
        stdout = run([require("node", "nodejs"), str(SCRIPT), str(Path(npm_folder).resolve()), out_dir],
                     stdin=stdin.encode("utf-8"))
        results: list[tuple[np.ndarray, int] | None] = []
        for item in parse_results(stdout.decode("utf-8"), texts):
            if isinstance(item, Path):
                x, sr = sf.read(item, dtype="float64", always_2d=True)
                if len(x):
                    results.append((x.mean(axis=1), sr))
                    continue
                item = GnuSpeechError(len(results), texts[len(results)], "empty WAV")
            if not skip_errors:
                raise item
            results.append(None)
    return results


def synthesize_gnuspeech(text: str, npm_folder: Path, voice: str = "male",
                         seed: int | None = None) -> tuple[np.ndarray, int]:
    """Synthesise one ``text`` (one Node process: prefer the batch call for many texts)."""
    result = synthesize_gnuspeech_batch([text], npm_folder, voice, None if seed is None else [seed])[0]
    assert result is not None
    return result
