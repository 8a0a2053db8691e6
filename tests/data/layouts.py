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


# MLAAD: fake/<language>/<model>/meta.csv (pipe-separated) + wavs; bona fide in a separate M-AILABS tree.
# Odd cases: a model reusing another's original_file, a `path` naming the wrong language folder (fr-fr),
# a language M-AILABS lacks (sw, transcripts from an English clip), a locale not downloaded (it_IT),
# transcripts opening with an unclosed quote (de: no CSV quoting in these pipe-separated files).
MLAAD_HEADER = ("path|original_file|language|is_original_language|duration|training_data|model_name|architecture|"
                "transcript")
MLAAD_DE = "de_DE/by_book/female/eva_k/grune_haus/wavs/grune_haus_01_f00000{}.wav"
MLAAD_EN = "en_US/by_book/female/judy_bieber/ozma_of_oz/wavs/ozma_of_oz_01_f00000{}.wav"
MLAAD = {
    ("de", "tts_models_de_thorsten_vits"): [("0.wav", MLAAD_DE.format(1), "de", "tts_models/de/thorsten/vits", "vits"),
                                            ("1.wav", MLAAD_DE.format(2), "de", "tts_models/de/thorsten/vits", "vits")],
    ("de", "facebook_mms-tts-deu"): [("0.wav", MLAAD_DE.format(1), "de", "facebook/mms-tts-deu", "vits")],
    ("en", "tts_models_en_ljspeech_tacotron2-DDC"): [
        ("0.wav", MLAAD_EN.format(1), "en", "tts_models/en/ljspeech/tacotron2-DDC", "tacotron2"),
        ("1.wav", MLAAD_EN.format(2), "en", "tts_models/en/ljspeech/tacotron2-DDC", "tacotron2")],
    ("fr", "tts_models_fr_css10_vits"): [("0.wav", "fr_FR/by_book/male/bernard/les_mis/wavs/les_mis_01_f000001.wav",
                                          "fr", "tts_models/fr/css10/vits", "vits")],
    ("sw", "facebook_mms-tts-swh"): [("0.wav", MLAAD_EN.format(3), "sw", "facebook/mms-tts-swh", "vits")],
    ("it", "tts_models_it_mai_female_vits"): [("0.wav", "it_IT/by_book/female/lisa/pinocchio/wavs/p_01_f000001.wav",
                                               "it", "tts_models/it/mai_female/vits", "vits")],
}


def mlaad(root: Path, mailabs: Path) -> tuple[Path, Path]:
    index = 0
    for (language, model), entries in MLAAD.items():
        lines = [MLAAD_HEADER]
        for file, original, lang, name, architecture in entries:
            folder = "fr-fr" if language == "fr" else language    # the `path` column's folder is not trusted
            lines.append(f"./fake/{folder}/{model}/{file}|{original}|{lang}|{lang in ('de', 'en', 'fr')}|2.1|"
                         f"x|{name}|{architecture}|" + ('"Halt, rief er.' if language == "de" else "A sentence."))
            demo(root / "fake" / language / model / file, "spoof", index)
            index += 1
            if not original.startswith("it_IT"):
                demo(mailabs / original, "bonafide", index)
        text(root / "fake" / language / model / "meta.csv", lines)
    return root, mailabs


# SpoofCeleb: flac/<split>/<attack>/<speaker>/<file>.flac + metadata/<split>.csv (path, speaker, attack).
SPOOFCELEB = {
    "train": ["a00/id10001/1zcIwhmdeo4-00001-001.flac,id10001,a00",
              "a01/id10001/1zcIwhmdeo4-00001-001.flac,id10001,a01",
              "a05/id10002/7gWzIy6yIIk-00003-002.flac,id10002,a05"],
    "development": ["a00/id10003/_JpHD6VnJ3I-00002-001.flac,id10003,a00",
                    "a07/id10003/_JpHD6VnJ3I-00002-001.flac,id10003,A07"],
    "evaluation": ["a00/id10004/ONvqXzzc8ac-00001-001.flac,id10004,a00",
                   "a16/id10004/ONvqXzzc8ac-00001-001.flac,id10004,a16",
                   "a23/id10005/Y8hIVOBuels-00011-001.flac,id10005,a23"],
}


def spoofceleb(root: Path, header: tuple[str, ...] = ("train",)) -> Path:
    index = 0
    for split, lines in SPOOFCELEB.items():
        text(root / "metadata" / f"{split}.csv", (["file,speaker,attack"] if split in header else []) + lines)
        for line in lines:
            path, _, attack = line.split(",")
            demo(root / "flac" / split / path, "bonafide" if attack == "a00" else "spoof", index)
            index += 1
    return root


# DiffSSD: generated_speech/<method>/ + train_val_test_splits.csv; real speech downloaded separately.
DIFFSSD_HEADER = "filename,method_name,category,source,set,target"
DIFFSSD = ["generated_speech/gradtts/LJ001-0001_gradtts.wav,gradtts,diffusion,open,train,1",
           "generated_speech/prodiff/LJ001-0002_prodiff.wav,prodiff,diffusion,open,train,1",
           "ljspeech/LJ001-0001.wav,bonafide,real,real,train,0",
           "generated_speech/gradtts/LJ001-0003_gradtts.wav,gradtts,diffusion,open,val,1",
           "librispeech/dev-clean/84/121123/84-121123-0000.flac,bonafide,real,real,val,0",
           "generated_speech/unitspeech/1089-134686-0000.wav,unitspeech,diffusion,open,test,1",
           "librispeech/test-clean/1089/134686/1089-134686-0000.flac,bonafide,real,real,test,0"]
DIFFSSD_REAL = {"ljspeech/": "LJSpeech-1.1/wavs/", "librispeech/": "LibriSpeech/"}


def diffssd(root: Path, real: Path, header: str = DIFFSSD_HEADER) -> tuple[Path, Path]:
    text(root / "train_val_test_splits.csv", [header] + DIFFSSD)
    for index, line in enumerate(DIFFSSD):
        filename, *_, target = line.split(",")
        if target == "1":
            demo(root / filename, "spoof", index)
        else:
            prefix = next(p for p in DIFFSSD_REAL if filename.startswith(p))
            demo(real / (DIFFSSD_REAL[prefix] + filename[len(prefix):]), "bonafide", index)
    return root, real


# Codecfake (Xie et al.): label/<subset>.txt (file, fake/real, type) + train/, dev/, test/C*/ (A1 at the root).
CODECFAKE = {
    "train": ["p225_001.wav real 0", "p225_001_dac.wav fake 4"],
    "dev": ["p226_002.wav real 0", "p226_002_encodec.wav fake"],
    "C1": ["p227_003.wav real 0", "p227_003_C1.wav fake 1"],
    "C7": ["SSB0005_0001_C7.wav fake 7"],
    "A1": ["A1_real_0001.wav real 0", "A1_fake_0001.wav fake 0"],
    "A3": ["A3_fake_0001.wav fake"],
}


def codecfake(root: Path) -> Path:
    index = 0
    for subset, lines in CODECFAKE.items():
        text(root / "label" / f"{subset}.txt", lines)
        folder = root / subset if subset in ("train", "dev", "A1") else root / "test" / subset
        for line in lines:
            file, key = line.split()[:2]
            demo(folder / file, "bonafide" if key == "real" else "spoof", index)
            index += 1
    return root


# CodecFake (Wu et al.): one folder per codec (VCTK re-synthesised), valle/, valle-x/, speechx/; VCTK apart.
CODECFAKE_WU = ["encodec_24k_6bps/p225_001.wav", "encodec_24k_6bps/p226_001.wav", "dac_16k/p225/p225_002.wav",
                "valle/p225_003.wav", "valle-x/p226_003.wav", "speechx/p226_004.wav"]
VCTK = ["wav48_silence_trimmed/p225/p225_001_mic1.flac", "wav48_silence_trimmed/p226/p226_001_mic1.flac"]


def codecfake_wu(root: Path, vctk: Path) -> tuple[Path, Path]:
    for index, relative in enumerate(CODECFAKE_WU):
        demo(root / relative, "spoof", index)
    for index, relative in enumerate(VCTK):
        demo(vctk / relative, "bonafide", index)
    return root, vctk
