"""The whole waveform cache on the device, and training batches gathered there (``--cache-on-device``).

The DataLoader path reads each crop from the memory-mapped cache on the host, in worker
processes, and copies every batch to the device. Here the cache's samples are uploaded once
(int16: 2 bytes a sample, 115 MB per hour of audio at 16 kHz) and each batch is one indexing
kernel on the device:
``samples[offset + (start + arange(crop)) % length]``, with the crop starts drawn on the host by
:meth:`CropDataset.crop_plan` (the same seeded draws as the DataLoader path) and sent as one
small ``(4, batch)`` int64 table (offset, length, start, target). A clip at least as long as
the crop is never wrapped (``start + crop <= length``); a shorter one starts at 0 and the modulo
repeats it to fill the crop, as :func:`~detector.data.loader.crop_or_repeat` does. The batches
are therefore bit-identical to ``to_device`` of the DataLoader's.

With ``--train-codecs`` the dataset's codec variants (derived caches, one per codec) are uploaded
too, after the clean cache in one tensor: K variants of the training rows add K times those rows'
size (115.2 MB per hour of training audio each, at 16 kHz), and an item's offset is that of the
source :meth:`CropDataset.crop_plan` drew, shifted by where that source starts in the tensor.

On the CPU the same code is a plain in-memory gather (tested there).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from detector.data.cache import WaveformCache
from detector.data.loader import CropDataset, to_float, training_order
from detector.utils.errors import UserError
from detector.utils.runtime import upload

UPLOAD_CHUNK = 1 << 26   # samples copied to the device at a time: bounds the host memory of an upload


def upload_samples(cache: WaveformCache | Sequence[WaveformCache], device: torch.device) -> torch.Tensor:
    """``cache.samples`` as one ``(total_samples,)`` tensor on ``device``, in the stored dtype.

    A sequence of caches (a dataset's ``sources``: the cache and its codec variants) gives their
    samples one after the other, in that order. On CUDA the free device memory
    (``torch.cuda.mem_get_info``) is checked first: caches that do not fit raise a
    :class:`~detector.utils.errors.UserError` naming both sizes. Upload once per run and pass the
    tensor to every epoch's :class:`DeviceCropLoader`; the model and its activations need the
    device memory that is left.
    """
    caches = [cache] if isinstance(cache, WaveformCache) else list(cache)
    if len({c.samples.dtype for c in caches}) > 1:
        raise ValueError(f"caches {[str(c.folder) for c in caches]} store different sample types; rebuild the "
                         "older one (delete its folder)")
    nbytes = sum(c.samples.nbytes for c in caches)
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        if nbytes > free:
            what = (f"the waveform cache {caches[0].folder}" if len(caches) == 1 else
                    f"the waveform cache {caches[0].folder} with its {len(caches) - 1} codec variant(s) "
                    "(--train-codecs)")
            raise UserError(
                f"--cache-on-device: {what} needs {_size(nbytes)} on {device}, which has {_size(free)} free of "
                f"{_size(total)}; train without --cache-on-device (the DataLoader path reads the caches from disk)")
    dtype = torch.from_numpy(np.zeros(0, dtype=caches[0].samples.dtype)).dtype
    uploaded = torch.empty(sum(c.samples.shape[0] for c in caches), dtype=dtype, device=device)
    base = 0
    for source in caches:
        samples = source.samples
        for first in range(0, samples.shape[0], UPLOAD_CHUNK):
            # np.array copies out of the read-only memmap; torch refuses to wrap a non-writable array.
            chunk = torch.from_numpy(np.array(samples[first:first + UPLOAD_CHUNK]))
            uploaded[base + first:base + first + chunk.shape[0]].copy_(chunk)
        base += samples.shape[0]
    return uploaded


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**30:.2f} GiB ({nbytes} bytes)"


class DeviceCropLoader:
    """One training epoch of ``dataset`` gathered on the device: a drop-in for
    ``make_loader(dataset, batch_size, True, device, ..., seed, start_batch, rank, world_size)``.

    Yields ``(wave (batch, 1, crop_samples) float32 in [-1, 1], target (batch,) int64)``, both on
    ``samples.device``, in :func:`~detector.data.loader.training_order` (the same items, order,
    resumption point and dropped last batch as the DataLoader), with the crops of
    :meth:`CropDataset.crop_plan`, read from the source it drew. ``samples`` is :func:`upload_samples`
    of ``dataset.sources`` (the cache, then its codec variants, if any).
    The host drawing the next batch's crop starts overlaps the device gathering this one's.
    """

    def __init__(self, dataset: CropDataset, batch_size: int, samples: torch.Tensor, seed: int = 0,
                 start_batch: int = 0, rank: int = 0, world_size: int = 1):
        sizes = [source.samples.shape[0] for source in dataset.sources]
        if samples.shape[0] != sum(sizes):
            raise ValueError(f"the uploaded samples ({samples.shape[0]}) are not those of the dataset's cache and "
                             f"codec variants ({sum(sizes)}): pass upload_samples(dataset.sources, device)")
        self.dataset, self.batch_size, self.samples = dataset, batch_size, samples
        self.bases = np.cumsum([0] + sizes[:-1])   # (sources,) where each source starts in ``samples``
        self.items, drop_last = training_order(dataset, batch_size, seed, start_batch, rank, world_size)
        whole, partial = divmod(len(self.items), batch_size)
        self.batches = whole + (1 if partial and not drop_last else 0)

    def __len__(self) -> int:
        return self.batches

    def _table(self, batch: int) -> torch.Tensor:
        """``(4, batch)`` int64 on the host: offset in ``samples``, length, crop start and target of each item."""
        items = self.items[batch * self.batch_size:(batch + 1) * self.batch_size]
        dataset, rows = self.dataset, self.dataset.rows[items]
        starts, sources = dataset.crop_plan(items)
        offsets = np.stack([source.offsets[rows] for source in dataset.sources])[sources, np.arange(len(rows))]
        table = torch.from_numpy(np.stack([self.bases[sources] + offsets, dataset.cache.lengths[rows], starts,
                                           dataset.targets[items]]))
        return table.pin_memory() if self.samples.is_cuda else table

    def _gather(self, table: torch.Tensor, steps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        offset, length, start, target = upload(table, self.samples.device)   # pinned already, in the prefetch thread
        index = offset[:, None] + (start[:, None] + steps) % length[:, None]
        return to_float(self.samples[index])[:, None], target

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        steps = torch.arange(self.dataset.crop_samples, device=self.samples.device)
        with ThreadPoolExecutor(max_workers=1) as prefetch:
            pending = prefetch.submit(self._table, 0) if self.batches else None
            for batch in range(self.batches):
                table = pending.result()
                if batch + 1 < self.batches:
                    pending = prefetch.submit(self._table, batch + 1)
                yield self._gather(table, steps)
