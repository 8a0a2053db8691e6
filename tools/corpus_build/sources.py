"""Real speech for the bona fide class: the Asterisk prompt packages, fetched, transcribed and decoded.

The packages are Debian's; ``apt-get download`` fetches them (the only network
step of a build) and ``dpkg-deb -x`` unpacks them into the scratch folder.
"""

from __future__ import annotations

import gzip
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from tools.corpus_build.hygiene import MIN_DURATION_S, SAMPLE_RATE, decode_file, trim_silence
from tools.corpus_build.tools import require, run

# Prompt sub-folders holding single words, letters, digits or silence.
SKIP_FOLDERS = ("digits", "letters", "phonetic", "silence")
SOUNDS = Path("usr/share/asterisk/sounds")


@dataclass(frozen=True)
class Source:
    """One speaker's prompt set in one language.

    ``package``: the Debian package shipping the audio; ``folder``: its folder under
    ``usr/share/asterisk/sounds``; ``codec``: its channel (a key of ``hygiene.CODECS``);
    ``suffix``: the prompt files' extension. Transcripts come from
    ``asterisk-core-sounds-<lang>`` (the prompt packages reuse its prompt names).
    """

    package: str
    folder: str
    speaker: str
    lang: str
    codec: str
    suffix: str


@dataclass(frozen=True)
class Prompt:
    """One decoded prompt.

    ``wav`` is the decoded 16 kHz file in the scratch folder; ``duration_s`` its
    length in seconds after silence trimming; ``codec`` its source channel.
    """

    speaker: str
    lang: str
    name: str
    text: str
    wav: Path
    duration_s: float
    codec: str


def fetch_sources(sources: tuple[Source, ...], scratch: Path) -> Path:
    """Download and unpack the prompt packages of ``sources`` and their languages' transcripts.

    Returns the unpacked root (holding ``usr/share/asterisk/sounds``). Packages
    already in ``scratch/debs`` are not downloaded again.
    """
    packages = dict.fromkeys(p for s in sources for p in (s.package, f"asterisk-core-sounds-{s.lang}"))
    return fetch_packages(list(packages), scratch)


def fetch_packages(packages: list[str], scratch: Path) -> Path:
    """Download (``apt-get download``, once) and unpack Debian ``packages`` into ``scratch/src``; returns that root."""
    debs, root = scratch / "debs", scratch / "src"
    debs.mkdir(parents=True, exist_ok=True)
    apt = require("apt-get", "apt")
    dpkg = require("dpkg-deb", "dpkg")
    for pkg in packages:
        found = sorted(debs.glob(f"{pkg}_*.deb"))
        if not found:
            run([apt, "download", pkg], cwd=debs)
            found = sorted(debs.glob(f"{pkg}_*.deb"))
        unpacked = root / ".unpacked" / found[-1].name
        if not unpacked.exists():   # a resumed build does not unpack hundreds of MB again
            run([dpkg, "-x", str(found[-1]), str(root)])
            unpacked.parent.mkdir(parents=True, exist_ok=True)
            unpacked.touch()
    return root


def read_transcripts(root: Path, lang: str) -> dict[str, str]:
    """Map prompt name (e.g. ``vm-deleted``) to its text, for prompts that are plain speech.

    Entries with annotations (``[tone]``, ``<beep>``, ``(comment)``) are dropped.
    """
    path = root / f"usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz"
    texts = {}
    with gzip.open(path, "rt", encoding="utf-8-sig") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(";") or ":" not in line:
                continue
            name, text = (s.strip() for s in line.split(":", 1))
            text = " ".join(text.replace('"', " ").replace("...", " ").split())
            if text and not any(c in text for c in "[]<>()*"):
                texts[name] = text
    return texts


def decode_prompts(sources: tuple[Source, ...], root: Path, scratch: Path, workers: int) -> list[Prompt]:
    """Decode every speech prompt with a transcript to 16 kHz WAV and measure it.

    Decoded files are cached in ``scratch/decoded``. Returns the prompts whose
    trimmed length is at least ``MIN_DURATION_S``, in ``sources`` order, then by name.
    """
    import soundfile as sf

    todo = []
    for source in sources:
        texts = read_transcripts(root, source.lang)
        for name, text in sorted(texts.items()):
            audio = root / SOUNDS / source.folder / f"{name}{source.suffix}"
            if name.split("/")[0] in SKIP_FOLDERS or not audio.exists():
                continue
            wav = scratch / "decoded" / source.folder / (name.replace("/", "-") + ".wav")
            todo.append((source, name, text, audio, wav))
    missing = [(str(audio), str(wav), source.codec) for source, _, _, audio, wav in todo if not wav.exists()]
    with multiprocessing.Pool(workers) as pool:
        for _ in tqdm(pool.imap_unordered(_decode_one, missing), total=len(missing), desc="decode", unit="file"):
            pass
    prompts = []
    for source, name, text, _, wav in todo:
        x, _ = sf.read(wav, dtype="float64")
        duration_s = len(trim_silence(x)) / SAMPLE_RATE
        if duration_s >= MIN_DURATION_S:
            prompts.append(Prompt(source.speaker, source.lang, name, text, wav, duration_s, source.codec))
    return prompts


def _decode_one(job: tuple[str, str, str]) -> None:
    """Decode one shipped prompt file (path, codec) to a 16-bit 16 kHz WAV file."""
    import soundfile as sf

    audio, wav, codec = job
    Path(wav).parent.mkdir(parents=True, exist_ok=True)
    sf.write(wav, decode_file(audio, codec), SAMPLE_RATE, subtype="PCM_16")
