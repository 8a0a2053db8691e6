"""The seed research code's spectrogram image, computed on the device from the waveform batch.

The seed draws each clip with librosa and matplotlib and trains on the PNG
(``benchmarks/seed_style_baseline.py`` runs the seed's own steps):

1. ``|librosa.stft|`` with n_fft 1024, hop 512, centred (zero padding), periodic Hann;
2. ``amplitude_to_db(S, ref=np.max)``: dB relative to the clip's peak, floored 80 dB below it;
3. ``specshow(S_db, y_axis="log", x_axis="time", cmap="magma")`` on a 10 x 5 in figure,
   ``plt.axis("off")``, ``savefig(dpi=300, bbox_inches="tight", pad_inches=0)``. With the axes
   off, the tight box is the axes box (matplotlib's default subplot box, ``figure.subplot.*``),
   so the PNG is that box alone, 2325 x 1155 pixels, filled edge to edge by a ``pcolormesh`` of
   the bins: no white margin. The colour scale spans the clip's own minimum to maximum;
   frequency is on a ``symlog`` axis (base 2, linear below C2 = 65.4 Hz, ``linscale`` 0.5); each
   bin's cell reaches halfway to its neighbours, and the axis limits are the cells' extent;
4. torchvision's ``Resize((224, 224))`` of the PIL image (PIL's bilinear, antialiased), then
   ImageNet normalisation.

Steps 3 and 4 are linear in the cells' colours once the colours are known, and separable:
rasterising the mesh is a one-hot map from pixel rows (columns) to bins (frames), and PIL's
resize is a triangle-filter matrix along each axis. So the image is ``rows @ colours @
columns.T`` per channel, with ``rows`` (224 x bins) built once and ``columns`` (224 x frames)
built from the input's length with tensor operations (no host reads, so it runs on the
``meta`` device and traces with a symbolic length).

The thesis's "filtering and thresholding" variant (``thresholded=True``) scales the same dB
spectrogram to 8 bits (min to max -> 0..255, truncated) and sets every bin of the formant
bands (100-900, 900-2500, 2500-3500 Hz, all with the same threshold, so 100-3500 Hz) to 255
above 110 and to 0 otherwise, then draws that the same way. The thesis's text leaves open
whether the 8-bit scaling is of dB or of magnitude; dB is the reading under which a threshold
at 110 of 255 (about 45 dB below the peak) keeps the formants rather than only the loudest peak.
"""
from __future__ import annotations

import numpy as np
import torch

from detector.utils.runtime import float32_region

from .common import check_waveform

N_FFT = 1024
HOP = 512
TOP_DB = 80.0
AMPLITUDE_FLOOR = 1e-5            # librosa's amin (on amplitude): -100 dB
FIGURE_IN = (10.0, 5.0)           # (width, height) of the seed's figure, inches
DPI = 300
SYMLOG_LINTHRESH_HZ = 440.0 * 2.0 ** ((36 - 69) / 12)   # C2, librosa's linthresh for y_axis="log"
SYMLOG_BASE = 2.0
SYMLOG_LINSCALE = 0.5
IMAGE_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
COLORMAP = "magma"
# The thesis's filtering and thresholding (on the 8-bit image).
THRESHOLD_BANDS_HZ = ((100.0, 900.0), (900.0, 2500.0), (2500.0, 3500.0))
THRESHOLD_LEVEL = 110


def symlog(values: np.ndarray) -> np.ndarray:
    """matplotlib's ``SymmetricalLogTransform`` with librosa's log-frequency settings (Hz -> axis units)."""
    linscale = SYMLOG_LINSCALE / (1.0 - 1.0 / SYMLOG_BASE)   # matplotlib's _linscale_adj
    magnitude = np.abs(values)
    with np.errstate(divide="ignore"):
        logarithmic = SYMLOG_LINTHRESH_HZ * (linscale + np.log(magnitude / SYMLOG_LINTHRESH_HZ) / np.log(SYMLOG_BASE))
    return np.where(magnitude <= SYMLOG_LINTHRESH_HZ, values * linscale, np.sign(values) * logarithmic)


def pil_bilinear_weights(in_size: int, out_size: int) -> np.ndarray:
    """``(out_size, in_size)`` weights of PIL's ``resize(BILINEAR)`` along one axis (Pillow's
    ``precompute_coeffs``: a triangle filter stretched by the reduction factor, rows summing to 1)."""
    scale = in_size / out_size
    support = max(scale, 1.0)
    weights = np.zeros((out_size, in_size))
    for out in range(out_size):
        centre = (out + 0.5) * scale
        low = max(int(centre - support + 0.5), 0)
        high = min(int(centre + support + 0.5), in_size)
        taps = np.arange(low, high)
        weights[out, low:high] = np.clip(1.0 - np.abs((taps - centre + 0.5) / support), 0.0, None)
        weights[out] /= weights[out].sum()
    return weights


def png_size() -> tuple[int, int]:
    """``(width, height)`` in pixels of the seed's PNG: the axes box, which ``bbox_inches="tight"``
    keeps of an axes-off figure, at ``DPI``. The box is matplotlib's default subplot box (its
    ``rcParamsDefault["figure.subplot.*"]`` fractions, 0.125-0.9 by 0.11-0.88) of the ``FIGURE_IN``
    figure: 7.75 x 3.85 in, 2325 x 1155 pixels (rounded: the products are whole up to float error)."""
    import matplotlib

    params = matplotlib.rcParamsDefault
    width = (params["figure.subplot.right"] - params["figure.subplot.left"]) * FIGURE_IN[0] * DPI
    height = (params["figure.subplot.top"] - params["figure.subplot.bottom"]) * FIGURE_IN[1] * DPI
    return round(width), round(height)


def row_map(sample_rate: int) -> np.ndarray:
    """``(IMAGE_SIZE, N_FFT // 2 + 1)``: 224 output rows (top = highest frequency) from the STFT bins.

    Each PNG row takes the bin whose symlog-scaled cell holds the row's centre (``pcolormesh``
    without antialiasing fills the pixels whose centres it covers); the PNG's rows span the axis
    limits, the mesh's extent (bin centres +- half a bin); then PIL's resize to 224 rows.
    """
    bins = N_FFT // 2 + 1
    centres = np.arange(bins) * sample_rate / N_FFT
    half = 0.5 * sample_rate / N_FFT
    edges = symlog(np.concatenate([[-half], centres + half]))     # matplotlib's "nearest" shading
    height = png_size()[1]
    from_bottom = height - (np.arange(height) + 0.5)                # PNG row centres, in pixels from the bottom
    position = edges[0] + from_bottom / height * (edges[-1] - edges[0])
    source = np.clip(np.searchsorted(edges, position, side="right") - 1, 0, bins - 1)
    one_hot = np.zeros((height, bins))
    one_hot[np.arange(height), source] = 1.0
    return pil_bilinear_weights(height, IMAGE_SIZE) @ one_hot


def colour_table() -> torch.Tensor:
    """``(256, 3)`` magma in [0, 1], as 8-bit PNG pixels hold it (matplotlib's LUT, rounded to 1/255)."""
    import matplotlib

    table = matplotlib.colormaps[COLORMAP](np.arange(256))[:, :3]
    return torch.tensor(np.round(table * 255.0) / 255.0, dtype=torch.float32)


class SeedImage(torch.nn.Module):
    """The seed's spectrogram image (or the thesis's thresholded one) for ImageNet ResNet-18.

    Input ``(batch, 1, time)`` float32 at ``sample_rate`` Hz; :meth:`forward` returns the
    ImageNet-normalised ``(batch, 3, 224, 224)`` float32, :meth:`image` the RGB image before
    normalisation, in [0, 1] (the PNG's 8-bit values / 255), and :meth:`normalise` the step
    between (training-time augmentation acts on the image). Computed in float32 even under
    autocast. Every input length works (frames = 1 + time // 512).
    """

    channels = 3

    def __init__(self, sample_rate: int = 16000, thresholded: bool = False):
        super().__init__()
        self.sample_rate = sample_rate
        self.thresholded = thresholded
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)
        self.register_buffer("rows", torch.tensor(row_map(sample_rate), dtype=torch.float32), persistent=False)
        self.register_buffer("column_weights", torch.tensor(pil_bilinear_weights(png_size()[0], IMAGE_SIZE),
                                                            dtype=torch.float32), persistent=False)
        self.register_buffer("colours", colour_table(), persistent=False)
        frequencies = torch.arange(N_FFT // 2 + 1) * sample_rate / N_FFT
        in_bands = torch.zeros_like(frequencies, dtype=torch.bool)
        for low, high in THRESHOLD_BANDS_HZ:
            in_bands |= (frequencies >= low) & (frequencies < high)
        self.register_buffer("in_bands", in_bands[:, None], persistent=False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN)[:, None, None], persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD)[:, None, None], persistent=False)

    def decibels(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, time)`` -> ``(batch, 513, frames)`` dB re the clip's peak, floored ``TOP_DB`` below it."""
        magnitude = torch.stft(wave, N_FFT, HOP, window=self.window, center=True, pad_mode="constant",
                               return_complex=True).abs()
        peak = magnitude.amax(dim=(1, 2), keepdim=True)
        db = 20.0 * (torch.log10(magnitude.clamp_min(AMPLITUDE_FLOOR)) - torch.log10(peak.clamp_min(AMPLITUDE_FLOOR)))
        return torch.maximum(db, db.amax(dim=(1, 2), keepdim=True) - TOP_DB)

    def levels(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, time)`` -> ``(batch, 513, frames)``: the values the colour map sees (dB, or 8-bit levels)."""
        db = self.decibels(wave)
        if not self.thresholded:
            return db
        eight_bit = torch.floor(255.0 * _min_max(db))
        return torch.where(self.in_bands, torch.where(eight_bit > THRESHOLD_LEVEL, 255.0, 0.0), eight_bit)

    def image(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, time)`` -> ``(batch, 3, 224, 224)`` RGB in [0, 1], before ImageNet normalisation."""
        check_waveform(wave, "SeedImage")
        with float32_region(wave.device):
            scaled = _min_max(self.levels(wave[:, 0].float()))           # matplotlib's Normalize(vmin, vmax)
            index = (scaled * 256.0).long().clamp(0, 255)               # Colormap.__call__ with N = 256
            cells = self.colours[index].permute(0, 3, 1, 2)              # (batch, 3, bins, frames)
            return self.rows @ cells @ self.columns(cells.shape[-1]).T

    def columns(self, frames: int) -> torch.Tensor:
        """``(224, frames)``: output columns from the frames. The PNG's columns span the time axis's
        limits (the frames' cells, edge to edge), each column taking the frame whose cell holds its
        centre; then PIL's resize to 224 columns."""
        width = self.column_weights.shape[1]
        centres = torch.arange(width, device=self.column_weights.device, dtype=torch.float32) + 0.5
        # A pixel centre on a cell boundary belongs to the left cell (as Agg fills the PNG), hence ceil - 1.
        frame = (torch.ceil(centres / width * frames).long() - 1).clamp(0, frames - 1)
        mapped = torch.zeros(IMAGE_SIZE, frames, device=self.column_weights.device)
        return mapped.index_add_(1, frame, self.column_weights)

    def normalise(self, image: torch.Tensor) -> torch.Tensor:
        """ImageNet normalisation of :meth:`image`'s ``(batch, 3, 224, 224)`` RGB in [0, 1], in float32."""
        with float32_region(image.device):
            return (image.float() - self.mean) / self.std

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.normalise(self.image(wave))


def _min_max(values: torch.Tensor) -> torch.Tensor:
    """Per example, ``(values - min) / (max - min)`` in [0, 1]; 0 where the example is constant
    (matplotlib's ``Normalize`` with ``vmin == vmax``)."""
    low = values.amin(dim=(1, 2), keepdim=True)
    span = values.amax(dim=(1, 2), keepdim=True) - low
    return torch.where(span > 0, (values - low) / torch.where(span > 0, span, 1.0), 0.0)


def image_uint8(frontend: SeedImage, wave: torch.Tensor) -> np.ndarray:
    """The model-input image as 8-bit RGB ``(batch, 224, 224, 3)`` uint8 (what ``detector render`` writes)."""
    with torch.no_grad():
        return (frontend.image(wave) * 255.0).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
