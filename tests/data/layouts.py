"""Tiny corpora written in each corpus's exact published layout (short synthetic tones, or clips of the
packaged demo corpus through :func:`demo`)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import soundfile

from detector.data.demo import DEMO_CORPUS

RNG = np.random.default_rng(0)
DEMO_FILES = {label: sorted((DEMO_CORPUS / label).rglob("*.flac")) for label in ("bonafide", "spoof")}


def tone(seconds: float = 0.2, sample_rate: int = 16000, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * RNG.uniform(100, 300) * t)).astype(np.float32)


def audio(path: Path, seconds: float = 0.2, sample_rate: int = 16000, amplitude: float = 0.3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, tone(seconds, sample_rate, amplitude), sample_rate)
    return path


def demo(path: Path, label: str = "bonafide", index: int = 0) -> Path:
    """A real clip of the packaged demo corpus (bona fide or spoof speech) at ``path``: copied when
    ``path`` is FLAC, re-encoded to the suffix's format otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    files = DEMO_FILES[label]
    source = files[index % len(files)]
    if path.suffix.lower() == ".flac":
        shutil.copyfile(source, path)
    else:
        wave, rate = soundfile.read(source, dtype="float32")
        soundfile.write(path, wave, rate)
    return path


def text(path: Path, lines: list[str], ending: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ending.join(lines).encode() + ending.encode())
    return path


# (In the 2021 keys a bona fide line has `bonafide` in the attack column too.)
# ASVspoof 2019 LA: SPEAKER UTT - SYSTEM KEY; odd cases: trailing spaces, CRLF, a blank line, upper-case key.
LA_2019 = {
    "train": ("train.trn", ["LA_0079 LA_T_1138215 - - bonafide", "LA_0079 LA_T_1271820 - A01 spoof   ",
                            "LA_0080 LA_T_1000001 - - BONAFIDE", "", "LA_0080 LA_T_1000002 - A02 Spoof"]),
    "dev": ("dev.trl", ["LA_0069 LA_D_1047731 - - bonafide", "LA_0069 LA_D_1105538 - A01 spoof"]),
    "eval": ("eval.trl", ["LA_0039 LA_E_2834763 - A11 spoof", "LA_0014 LA_E_8877452 - - bonafide"]),
}


def asvspoof2019_la(root: Path, protocols: dict = LA_2019) -> Path:
    for subset, (suffix, lines) in protocols.items():
        text(root / "LA" / "ASVspoof2019_LA_cm_protocols" / f"ASVspoof2019.LA.cm.{suffix}.txt", lines, "\r\n")
        for line in lines:
            if line.strip():
                audio(root / "LA" / f"ASVspoof2019_LA_{subset}" / "flac" / f"{line.split()[1]}.flac")
    return root


def asvspoof2019_pa(root: Path) -> Path:
    lines = ["PA_0079 PA_T_0000001 aaa - bonafide", "PA_0079 PA_T_0000601 aaa AA spoof",
             "PA_0080 PA_T_0000602 acb BA spoof"]
    text(root / "ASVspoof2019_PA_cm_protocols" / "ASVspoof2019.PA.cm.train.trn.txt", lines)
    for line in lines:
        audio(root / "ASVspoof2019_PA_train" / "flac" / f"{line.split()[1]}.flac")
    return root


def asvspoof2021(root: Path) -> Path:
    la = ["LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval",
          "LA_0009 LA_E_1000001 alaw ita_tx bonafide bonafide notrim progress\t",
          "LA_0010 LA_E_1000002 nocodec nocodec bonafide Bonafide notrim eval"]
    df = ["LA_0043 DF_E_2000026 mp3m4a asvspoof A09 spoof notrim eval traditional_vocoder - - - -",
          "VCC2SF3 DF_E_2000027 nocodec vcc2020 bonafide bonafide notrim eval bonafide - - - -"]
    for name, lines in (("LA", la), ("DF", df)):
        text(root / "keys" / name / "CM" / "trial_metadata.txt", lines)
        for line in lines:
            audio(root / f"ASVspoof2021_{name}_eval" / "flac" / f"{line.split()[1]}.flac")
    return root


# ASVspoof 5 track 1, ten space-separated fields: SPEAKER FILE GENDER CODEC CODEC_Q CODEC_SEED ATTACK_TAG
# ATTACK_LABEL KEY TMP. Uncoded trials read "- -" in train/dev and "- 0" in eval; odd cases: a trailing
# blank, codec "0" (read as uncoded too), a device channel (C11, quality 6).
ASVSPOOF5 = {
    ("ASVspoof5.train.tsv", "flac_T"): ["T_4850 T_0000000000 F - - - AC3 A05 spoof -",
                                        "T_4850 T_0000000001 F - - - - bonafide bonafide -",
                                        "T_4851 T_0000000002 M - - - AC1 A01 spoof -"],
    ("ASVspoof5.dev.track_1.tsv", "flac_D"): ["D_0062 D_0000000001 M - - - AC1 A11 spoof -  ",
                                              "D_0062 D_0000000002 M - - - - bonafide bonafide -"],
    ("ASVspoof5.eval.track_1.tsv", "flac_E_eval"): ["E_0001 E_0000000001 F - 0 - - bonafide bonafide -",
                                                    "E_0001 E_0000000002 F C07 3 1 - bonafide bonafide -",
                                                    "E_0002 E_0000000003 M C11 6 2 AC2 A20 spoof -",
                                                    "E_0002 E_0000000004 M 0 0 - AC2 A18 spoof -"],
}
# Track-2 enrolment utterances that share the track-1 audio folders.
ASVSPOOF5_ENROLMENT = {"flac_D": ["D_0000000100", "D_0000000101"], "flac_E_eval": ["E_0000000900"]}


def asvspoof5(root: Path, protocols: str = "") -> Path:
    """The published layout: the protocol archive's files at ``root/<protocols>`` (default: the
    root itself, where ``ASVspoof5_protocols.tar.gz`` unpacks), audio in ``flac_T``, ``flac_D``,
    ``flac_E_eval``, which also hold enrolment files no track-1 protocol lists."""
    for index, ((name, folder), lines) in enumerate(ASVSPOOF5.items()):
        text(root / protocols / name, lines)
        for number, line in enumerate(lines):
            fields = line.split()
            demo(root / folder / f"{fields[1]}.flac", fields[8], 3 * index + number)
    text(root / protocols / "ASVspoof5.dev.enroll.txt", ["D_0062 " + ",".join(ASVSPOOF5_ENROLMENT["flac_D"])])
    for folder, utts in ASVSPOOF5_ENROLMENT.items():
        for utt in utts:
            demo(root / folder / f"{utt}.flac")
    return root


def laundered(root: Path) -> Path:
    lines = ["SPEAKER_ID AUDIO_FILE_NAME SYSTEM_ID KEY Laundering_Type Laundering_Param",
             "LA_0039 LA_E_2834763 A11 spoof Noise_Addition babble_10",
             "LA_0039 LA_E_2834763 A11 spoof Noise_Addition babble_0",
             "LA_0014 LA_E_8877452 - bonafide Noise_Addition babble_10"]
    text(root / "ASVspoofLauneredDatabase_Noise_Addition.txt", lines)
    for line in lines[1:]:
        _, utt, _, _, kind, param = line.split()
        audio(root / kind / param / f"{utt}.flac")
    return root


def in_the_wild(root: Path) -> Path:
    base = root / "release_in_the_wild"
    text(base / "meta.csv", ["file,speaker,label", "0.wav,Alec Guinness,spoof", "1.wav,Alec Guinness,bona-fide",
                             "2.wav,Barack Obama,Spoof ", "3.wav,Barack Obama,bona-fide"])
    for i in range(4):
        audio(base / f"{i}.wav")
    return root


def wavefake(root: Path) -> Path:
    for folder in ("ljspeech_melgan", "ljspeech_multi_band_melgan", "jsut_parallel_wavegan"):
        for i in range(2):
            audio(root / "generated_audio" / folder / f"LJ001-000{i}_gen.wav")
    audio(root / "real_audio" / "LJSpeech-1.1" / "wavs" / "LJ001-0001.wav")
    audio(root / "real_audio" / "jsut_ver1.1" / "basic5000" / "wav" / "BASIC5000_0001.wav")
    return root


def fake_or_real(root: Path, versions=("for-norm", "for-2seconds")) -> Path:
    for version in versions:
        for folder in ("training", "validation", "testing"):
            for kind in ("fake", "real"):
                audio(root / version / folder / kind / "file1.wav_16k.wav_norm.wav_mono.wav_silence.wav")
    return root
