"""Real speech from many rooms, voices and languages: the `wild` preset's bona fide recordings.

Each reader lists the recordings one Debian package ships, as :class:`Recording`s:
where the audio lies (a file, a zip member, a game-archive entry), who speaks, in
which language, what they say when the package tells it, and the channel the
package coded it with (``hygiene.channel_name``). Nothing is decoded here.

Processed (non-human) voices are left out: Hedgewars' "Robot" pack and Warzone 2100's
"Nexus" lines. Speakers are named by what the package tells: a voice pack, a
language folder (one volunteer per language and package is assumed: the
packages credit one reader per language where they credit any) or a game.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tools.corpus_build.hygiene import LOSSY_KBPS, channel_name

# What each source's package is, for the corpus README and the fetch step.
PACKAGES = {
    "tuxpaint": "tuxpaint-stamps-default",
    "klettres": "klettres-data",
    "ktuberling": "ktuberling-data",
    "hedgewars": "hedgewars-data",
    "warzone": "warzone2100-data",
    "kajongg": "kajongg",
    "sky": "beneath-a-steel-sky",
    "queen": "flight-of-the-amazon-queen",
}
# libsndfile's subtype of a shipped file -> the channel format that codes spoofs like it.
FILE_CHANNELS = {"PCM_16": "pcm16", "PCM_U8": "u8", "VORBIS": "vorbis", "OPUS": "opus", "MPEG_LAYER_III": "mp3"}
SHIPPED_RATES_HZ = (8000, 48000)   # sample rates of real recordings; others are mislabelled files
PROCESSED_VOICES = {"hedgewars": ("Robot",), "warzone": ("audio/nexus/", "sequenceaudio/nex")}
# Warzone 2100's folders of spoken lines (the rest is effects, music and laughter).
WARZONE_SPEECH = ("audio/tutorial/", "audio/memressp/", "audio/vtoltalk/", "audio/trnsppil/",
                  "audio/proxmessages/", "audio/countdown/", "sequenceaudio/")


@dataclass(frozen=True)
class Recording:
    """One shipped recording of real speech.

    ``path``: the file, zip or archive holding it (under the unpacked root);
    ``member``: the zip member or archive entry ("" for a plain file);
    ``name``: its text id (recordings of one text in several languages share it, so
    splits keep texts apart); ``text``: what is said, "" when the package does not
    say; ``channel``: a ``hygiene.channel_name`` key; ``duration_s``: shipped length.
    """

    source: str
    speaker: str
    lang: str
    name: str
    text: str
    path: str
    member: str
    channel: str
    duration_s: float


def language(code: str) -> str:
    """ISO 639 language of a folder or locale name: ``en_GB`` -> ``en``, ``pt_BR`` -> ``pt``."""
    return code.split("_")[0].split(".")[0].lower()


def file_channel(path: Path, info) -> str:
    """The channel of one shipped file from its ``soundfile.info``: format, rate and, if lossy, bitrate.

    The bitrate is Vorbis's nominal one from the stream header where there is one (a short
    file's average is swollen by its headers), else the file's average, rounded to ``LOSSY_KBPS``.
    A coding no channel reproduces (24-bit PCM, FLAC, ...) is an error naming the file.
    """
    fmt = FILE_CHANNELS.get(info.subtype.upper())
    if fmt is None:
        raise ValueError(f"corpus_build: {path}: {info.subtype} audio has no channel here "
                         f"(known: {', '.join(FILE_CHANNELS)})")
    if fmt in ("pcm16", "u8"):
        return channel_name(fmt, info.samplerate)
    return lossy_channel(fmt, info, path.read_bytes()[:256], path.stat().st_size)


def lossy_channel(fmt: str, info, head: bytes, size: int) -> str:
    """Channel key of a lossy stream: ``info`` its ``soundfile.info``, ``head`` its first bytes, ``size`` bytes."""
    kbps = _vorbis_nominal_kbps(head) if fmt == "vorbis" else None
    if kbps is None:
        kbps = size * 8 / 1000 / max(info.duration, 0.1)
    return channel_name(fmt, info.samplerate, min(LOSSY_KBPS, key=lambda b: abs(b - kbps)))


def _vorbis_nominal_kbps(head: bytes) -> float | None:
    """Nominal bitrate (kbit/s) in the Ogg Vorbis identification header within ``head``, or None."""
    at = head.find(b"\x01vorbis")
    if at < 0 or len(head) < at + 24:
        return None
    # After the packet's 7-byte tag: version (4), channels (1), rate (4), maximum bitrate (4), nominal (4).
    nominal = int.from_bytes(head[at + 20: at + 24], "little", signed=True)
    return nominal / 1000 if nominal > 0 else None


def _files(root: Path, source: str, pattern: str, speaker_lang, text_of=lambda path: "") -> list[Recording]:
    """Recordings of the plain files matching ``pattern`` under ``root``.

    ``speaker_lang(path)`` -> (speaker, language, text id) or None to skip the file. A file
    whose header claims a rate outside ``SHIPPED_RATES_HZ`` is left out and counted (KLettres
    ships 29 files marked 128 kHz: no encoder codes that channel, and the rate is a mislabel).
    """
    import soundfile as sf

    recordings, odd_rates = [], 0
    for path in sorted(root.glob(pattern)):
        who = speaker_lang(path)
        if who is None:
            continue
        info = sf.info(str(path))
        if not SHIPPED_RATES_HZ[0] <= info.samplerate <= SHIPPED_RATES_HZ[1]:
            odd_rates += 1
            continue
        speaker, lang, name = who
        recordings.append(Recording(source, speaker, lang, name, text_of(path), str(path.relative_to(root)), "",
                                    file_channel(path, info), info.duration))
    if odd_rates:
        print(f"{source}: {odd_rates} files left out, their rate outside {SHIPPED_RATES_HZ} Hz", flush=True)
    return recordings


TUXPAINT = Path("usr/share/tuxpaint/stamps")


def tuxpaint_texts(root: Path) -> dict[str, dict[str, str]]:
    """Stamp id (path without suffix, under the stamps folder) -> {language: description}.

    Each stamp's ``.txt`` holds its English description on the first line and
    ``<locale>.utf8=<text>`` lines for the translations.
    """
    texts = {}
    for txt in sorted((root / TUXPAINT).rglob("*.txt")):
        lines = txt.read_text(encoding="utf-8", errors="replace").splitlines()
        if not lines:
            continue
        stamp = {"en": lines[0].strip()}
        for line in lines[1:]:
            locale, sep, text = line.partition("=")
            if sep and text.strip() and locale.endswith(".utf8"):
                stamp.setdefault(language(locale), text.strip())
        texts[str(txt.relative_to(root / TUXPAINT).with_suffix(""))] = stamp
    return texts


def tuxpaint(root: Path) -> list[Recording]:
    """Stamp descriptions read by volunteers: ``<stamp>_desc[_<lang>].ogg`` (no suffix: English)."""
    texts = tuxpaint_texts(root)
    pattern = re.compile(r"^(.*)_desc(?:_([a-z]{2,3}(?:_[A-Z]{2})?))?$")

    def who(path: Path):
        match = pattern.match(path.name.removesuffix(".ogg"))
        if match is None:
            return None
        stamp = str(path.relative_to(root / TUXPAINT).parent / match.group(1))
        lang = language(match.group(2) or "en")
        return f"tuxpaint_{lang}", lang, f"tuxpaint/{stamp}"

    def text(path: Path) -> str:
        _, lang, name = who(path)
        return texts.get(name.removeprefix("tuxpaint/"), {}).get(lang, "")

    return _files(root, "tuxpaint", f"{TUXPAINT}/**/*_desc*.ogg", who, text)


def klettres(root: Path) -> list[Recording]:
    """Letters and syllables, one reader per language folder (``<lang>/alpha``, ``<lang>/syllab``)."""
    def who(path: Path):
        folder = path.relative_to(root / "usr/share/klettres").parts[0]
        return f"klettres_{folder}", language(folder), f"klettres/{language(folder)}/{path.stem}"

    return _files(root, "klettres", "usr/share/klettres/*/*/*.ogg", who, lambda path: path.stem)


def ktuberling(root: Path) -> list[Recording]:
    """Single words in each language's folder (``sounds/<lang>/<word>.*``); the word id is English."""
    def who(path: Path):
        folder = path.parent.name
        return f"ktuberling_{folder}", language(folder), f"ktuberling/{path.stem}"

    return _files(root, "ktuberling", "usr/share/ktuberling/sounds/*/*.*", who)


def hedgewars(root: Path) -> list[Recording]:
    """Voice packs (``voices/<pack>/<Line>.ogg``); a ``_es``/``_pl``/``_ru``/``_uk`` suffix names the language."""
    def who(path: Path):
        pack = path.parent.name
        if pack in PROCESSED_VOICES["hedgewars"]:
            return None
        suffix = pack.rsplit("_", 1)[1] if "_" in pack else "en"
        return f"hedgewars_{pack}", suffix, f"hedgewars/{path.stem.lower()}"

    return _files(root, "hedgewars", "usr/share/games/hedgewars/Data/Sounds/voices/*/*.ogg", who,
                  lambda path: " ".join(re.findall(r"[A-Z]?[a-z]+", path.stem)))


def kajongg(root: Path) -> list[Recording]:
    """Mah-jongg calls by five voices (``voices/<voice>``, English; ``voices/de/<voice>``, German)."""
    base = root / "usr/share/kajongg/voices"

    def who(path: Path):
        parts = path.relative_to(base).parts
        lang, voice = ("de", parts[1]) if parts[0] == "de" else ("en", parts[0])
        return f"kajongg_{lang}_{voice}", lang, f"kajongg/{path.stem}"

    return _files(root, "kajongg", "usr/share/kajongg/voices/**/*.ogg", who)


def warzone(root: Path) -> list[Recording]:
    """Announcer, tutorial and briefing lines inside ``base.wz`` (a zip of Ogg Vorbis files)."""
    import io

    import soundfile as sf

    archive = root / "usr/share/games/warzone2100/base.wz"
    recordings = []
    with zipfile.ZipFile(archive) as wz:
        for member in sorted(wz.namelist()):
            if (not member.endswith(".ogg") or not member.startswith(WARZONE_SPEECH)
                    or member.startswith(PROCESSED_VOICES["warzone"])):
                continue
            data = wz.read(member)
            info = sf.info(io.BytesIO(data))
            channel = lossy_channel("vorbis", info, data[:256], len(data))
            recordings.append(Recording("warzone", "warzone", "en", f"warzone/{Path(member).stem}", "",
                                        str(archive.relative_to(root)), member, channel, info.duration))
    return recordings


# Bytes per second of the Asterisk prompt channels: G.722 at 64 kbit/s, GSM 06.10 (33 bytes per
# 20 ms), 16-bit PCM at 8 kHz (WAV: 44 header bytes): a prompt's length without decoding it.
ASTERISK_BYTES_PER_S = {"g722": 8000.0, "gsm": 1650.0, "pcm8k": 16000.0}


def asterisk(root: Path, prompt_sets) -> list[Recording]:
    """The transcribed Asterisk prompts of ``prompt_sets`` (``sources.Source``), as ``large`` reads them;
    text ids ``asterisk/<prompt name>`` (shared across languages and speakers)."""
    from tools.corpus_build.sources import SKIP_FOLDERS, SOUNDS, read_transcripts

    recordings = []
    for source in prompt_sets:
        for name, text in sorted(read_transcripts(root, source.lang).items()):
            audio = root / SOUNDS / source.folder / f"{name}{source.suffix}"
            if name.split("/")[0] in SKIP_FOLDERS or not audio.exists():
                continue
            header = 44 if source.suffix == ".wav" else 0
            duration_s = max(audio.stat().st_size - header, 0) / ASTERISK_BYTES_PER_S[source.codec]
            recordings.append(Recording("asterisk", source.speaker, source.lang, f"asterisk/{name}", text,
                                        str(audio.relative_to(root)), "", source.codec, duration_s))
    return recordings


SKY = Path("usr/share/scummvm/beneath-a-steel-sky")
QUEEN = Path("usr/share/scummvm/flight-of-the-amazon-queen/queen.1c")


def sky(root: Path) -> list[Recording]:
    """Beneath a Steel Sky's spoken lines (8-bit 11,025 Hz inside ``sky.dsk``; ``archives.sky``).

    One speaker label for the whole game: the archive does not say who speaks a line, so
    the robot Joey's processed voice cannot be left out (said in the corpus README).
    """
    from tools.corpus_build.archives import sky as archive

    dsk = root / SKY / "sky.dsk"
    recordings = []
    with dsk.open("rb") as f:
        for entry in sorted(archive.read_dnr(root / SKY / "sky.dnr"), key=lambda e: e.file_number):
            if not archive.is_speech(entry.file_number):
                continue
            # The length without unpacking: the RNC stream after the file header starts with its unpacked size.
            f.seek(entry.offset + archive.HEADER_SIZE)
            head = f.read(8)
            size = int.from_bytes(head[4:8], "big") if head[:4] == b"RNC\x01" else entry.size - archive.HEADER_SIZE
            recordings.append(Recording("sky", "sky", "en", f"sky/{entry.file_number}", "", str(SKY / "sky.dsk"),
                                        str(entry.file_number), channel_name("u8", archive.SAMPLE_RATE),
                                        size / archive.SAMPLE_RATE))
    return recordings


def queen(root: Path) -> list[Recording]:
    """Flight of the Amazon Queen's spoken lines (16 kbit/s MP3 inside ``queen.1c``; ``archives.queen``).

    Speakers are the game's character names where the entry name tells (``queen_JOE``,
    ``queen_FAYE``, ...), ``queen_cutscene`` where it does not; characters, not actors.
    """
    from tools.corpus_build.archives import queen as archive

    keys = archive.talk_keys(root / QUEEN)
    return [Recording("queen", f"queen_{archive.speaker_of(entry.name, keys) or 'cutscene'}", "en",
                      f"queen/{entry.name.removesuffix('.SB')}", "", str(QUEEN), entry.name,
                      channel_name("mp3", 11025, 16), entry.size * 8 / 16000)
            for entry in archive.read_table(root / QUEEN) if archive.is_speech(entry.name)]


READERS = {"tuxpaint": tuxpaint, "klettres": klettres, "ktuberling": ktuberling, "hedgewars": hedgewars,
           "warzone": warzone, "kajongg": kajongg,
           "sky": sky, "queen": queen}
