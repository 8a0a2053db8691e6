"""The seed-style baseline: the research workflow that writes a spectrogram PNG per clip per condition.

A faithful re-creation, for benchmarks only, of how the laundered-ASVspoof
research scripts work, one clip at a time, every step through files:

1. launder (per clip and condition: read the source file, degrade it, write a WAV):
   - reverb: a pyroomacoustics shoebox room simulated *per clip* (10 x 7.5 x 3.5 m,
     source (2.5, 3.73, 1.76), mic (6.3, 4.87, 1.2), absorption by inverse Sabine);
   - noise: a noise recording read from disk, a random crop mixed with NumPy at an
     SNR drawn from [s, s + 0.5] dB;
   - resample: ``scipy.signal.resample_poly`` down to the rate and back;
   - MP3: a round trip through the ``ffmpeg`` program (libmp3lame), one process per
     file and direction, via an MP3 file;
   - low-pass: ``scipy.signal`` Butterworth, order 5, 7 kHz (``sosfilt``);
2. render (per laundered file), the seed's ``gen_spectra.py`` step by step: ``librosa.load``
   at the file's own rate, ``|librosa.stft|`` (n_fft 1024, hop 512), ``amplitude_to_db``
   re the peak, ``librosa.display.specshow`` (time axis, log-frequency axis, magma) on a
   10 x 5 in figure, ``plt.axis("off")``, ``savefig`` at 300 dpi with ``bbox_inches="tight"``
   and ``pad_inches=0``: the tight box of an axes-off figure is the axes box, so the PNG is
   the spectrogram alone, 2325 x 1155 RGBA, no white margin;
3. load for training: PIL open, RGB, torchvision ``Resize((224, 224))`` (PIL bilinear,
   antialiased), ``ToTensor``, ImageNet ``Normalize``, batched by a DataLoader.

Needs the ``bench`` extra (librosa, Pillow, matplotlib) and, for MP3, the ``ffmpeg``
program; without it :func:`ffmpeg_available` is false and callers skip MP3 with a note.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile
import torch

N_FFT = 1024
HOP = 512
FIGURE_IN = (10, 5)
DPI = 300
# (width, height) pixels of the saved PNG: the axes box of the 10 x 5 in figure at 300 dpi, matplotlib's
# default subplot box (left 0.125, right 0.9, bottom 0.11, top 0.88 of the figure), which the tight bbox keeps.
PNG_SIZE = (2325, 1155)
IMAGE_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ROOM_M = (10.0, 7.5, 3.5)
SOURCE_M = (2.5, 3.73, 1.76)
MIC_M = (6.3, 4.87, 1.2)
LOWPASS_ORDER = 5


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


# --------------------------------------------------------------------------- laundering, file to file

def read(path: Path) -> tuple[np.ndarray, int]:
    wave, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return wave.mean(axis=1), rate


def write(path: Path, wave: np.ndarray, rate: int) -> None:
    soundfile.write(str(path), np.clip(wave, -1.0, 1.0).astype(np.float32), rate, subtype="PCM_16")


def reverb_file(source: Path, target: Path, rt60_s: float) -> None:
    """Simulate the study's room for this clip (pyroomacoustics ``simulate``) and write the microphone signal."""
    import pyroomacoustics as pra

    wave, rate = read(source)
    absorption, max_order = pra.inverse_sabine(rt60_s, list(ROOM_M))
    room = pra.ShoeBox(list(ROOM_M), fs=rate, materials=pra.Material(absorption), max_order=max_order)
    room.add_source(list(SOURCE_M), signal=wave)
    room.add_microphone(list(MIC_M))
    room.simulate()
    out = room.mic_array.signals[0, : len(wave)]
    peak = np.abs(out).max()
    write(target, out / peak * np.abs(wave).max() if peak > 0 else out, rate)


def noise_file(source: Path, target: Path, noise_path: Path, snr_db: float, rng: np.random.Generator) -> None:
    """Mix a random crop of the noise recording at ``noise_path`` at ``snr_db`` (drawn by the caller)."""
    wave, rate = read(source)
    noise, _ = read(noise_path)
    start = int(rng.integers(0, max(len(noise) - len(wave), 0) + 1))
    noise = np.resize(noise[start:start + len(wave)], len(wave))
    gain = np.sqrt(np.mean(wave ** 2) / max(np.mean(noise ** 2), 1e-12) / 10 ** (snr_db / 10))
    mixed = wave + gain * noise
    peak = np.abs(mixed).max()
    write(target, mixed / peak if peak > 1 else mixed, rate)


def resample_file(source: Path, target: Path, rate_hz: int) -> None:
    wave, rate = read(source)
    g = np.gcd(rate_hz, rate)
    down = scipy.signal.resample_poly(wave, rate_hz // g, rate // g)
    write(target, scipy.signal.resample_poly(down, rate // g, rate_hz // g)[: len(wave)], rate)


def mp3_file(source: Path, target: Path, bitrate_kbps: int) -> None:
    """WAV -> MP3 -> WAV through the ``ffmpeg`` program (libmp3lame, CBR), one process per direction."""
    if not ffmpeg_available():
        raise FileNotFoundError("the seed-style baseline's MP3 conditions need the ffmpeg program "
                                "(Debian: apt-get install ffmpeg)")
    coded = target.with_suffix(".mp3")
    run = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run(run + ["-i", str(source), "-codec:a", "libmp3lame", "-b:a", f"{bitrate_kbps}k", str(coded)],
                   check=True)
    subprocess.run(run + ["-i", str(coded), "-ar", str(soundfile.info(str(source)).samplerate), str(target)],
                   check=True)


def lowpass_file(source: Path, target: Path, cutoff_hz: float) -> None:
    wave, rate = read(source)
    sos = scipy.signal.butter(LOWPASS_ORDER, cutoff_hz, fs=rate, output="sos")
    write(target, scipy.signal.sosfilt(sos, wave), rate)


def launder_file(condition: str, source: Path, target: Path, noise_dir: Path, rng: np.random.Generator) -> None:
    """Apply one study condition string (``reverb:rt60=0.6``, ``noise:cafe:snr=10..10.5``, ...) file to file."""
    family, *rest = condition.split(":")
    if family == "clean":
        write(target, *read(source))
    elif family == "reverb":
        reverb_file(source, target, float(rest[0].split("=")[1]))
    elif family == "noise":
        low, high = (float(v) for v in rest[1].split("=")[1].split(".."))
        noise_file(source, target, noise_dir / f"{rest[0]}.wav", float(rng.uniform(low, high)), rng)
    elif family == "resample":
        resample_file(source, target, int(rest[0]))
    elif family == "mp3":
        mp3_file(source, target, int(rest[0].rstrip("k")))
    elif family == "lowpass":
        lowpass_file(source, target, float(rest[0]))
    else:
        raise ValueError(f"seed-style baseline: no file-based version of condition {condition!r}")


# --------------------------------------------------------------------------- spectrogram PNGs

def spectrogram_png(source: Path, target: Path,
                    filtering: Callable[[np.ndarray, int], np.ndarray] | None = None) -> None:
    """Draw ``source``'s log-frequency magma spectrogram as the seed's ``gen_spectra.py`` does and save
    it as a PNG (``PNG_SIZE``, the axes box only). ``filtering(S_db, sr)``, if given, replaces the dB
    spectrogram ``(513, frames)`` by what it returns before drawing (the thesis's thresholded variant)."""
    import librosa
    import librosa.display
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y, sr = librosa.load(str(source), sr=None)
    S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    S_db = librosa.amplitude_to_db(S, ref=np.max)
    if filtering is not None:
        S_db = filtering(S_db, sr)
    plt.figure(figsize=FIGURE_IN)
    librosa.display.specshow(S_db, sr=sr, hop_length=HOP, x_axis="time", y_axis="log", cmap="magma")
    plt.axis("off")
    plt.savefig(str(target), dpi=DPI, bbox_inches="tight", pad_inches=0)
    plt.close()


def png_at_224(path: Path) -> np.ndarray:
    """The PNG as the seed's training sees it before ``ToTensor``: RGB, ``Resize((224, 224))`` on the PIL
    image; ``(224, 224, 3)`` uint8."""
    import torchvision.transforms as T
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(T.Resize((IMAGE_SIZE, IMAGE_SIZE))(image.convert("RGB")))


def png_transform():
    import torchvision.transforms as T

    return T.Compose([T.Resize((IMAGE_SIZE, IMAGE_SIZE)), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


class PngDataset(torch.utils.data.Dataset):
    """Spectrogram PNGs as ``(3, 224, 224)`` ImageNet-normalised tensors + labels, the research loader."""

    def __init__(self, paths: list[Path], labels: list[int]) -> None:
        self.paths, self.labels, self.transform = list(paths), list(labels), png_transform()

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, k: int):
        from PIL import Image

        with Image.open(self.paths[k]) as image:
            return self.transform(image.convert("RGB")), self.labels[k]


def png_loader(paths: list[Path], labels: list[int], batch_size: int = 32, workers: int = 2):
    return torch.utils.data.DataLoader(PngDataset(paths, labels), batch_size=batch_size, num_workers=workers,
                                       shuffle=False)


# --------------------------------------------------------------------------- helpers

def write_noise_files(banks, folder: Path, sample_rate: int, kinds=("babble", "cafe", "street", "volvo", "white")):
    """The same noise signals our banks use, as WAV recordings on disk for the baseline to read."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind in kinds:
        write(folder / f"{kind}.wav", banks.noise(kind, sample_rate) / max(np.abs(banks.noise(kind, sample_rate)).max(),
                                                                          1e-9), sample_rate)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def temp_folder(parent: Path | None = None) -> Path:
    return Path(tempfile.mkdtemp(prefix="seed-style-", dir=parent))
