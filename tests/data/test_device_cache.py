"""--cache-on-device: the whole cache as one tensor, batches gathered by indexing, identical to the
DataLoader path's batches after to_device (on the CPU device here; the same code runs on CUDA)."""
import json

import numpy as np
import pytest
import torch

from detector.data import (
    CropDataset,
    DeviceCropLoader,
    load_or_build_cache,
    make_loader,
    read_manifest,
    upload_samples,
    write_manifest,
)
from detector.data.cache import open_cache
from detector.data.corpora import folder_corpus as corpus_rows
from detector.data.loader import to_device
from detector.utils.errors import UserError

CPU = torch.device("cpu")


@pytest.fixture
def corpus(tmp_path, folder_corpus, cache_dir):
    rows = corpus_rows(folder_corpus, tmp_path / "m.csv", (1, 0, 0))
    rows[2]["repeat"] = "3"   # oversampled: three items, three crops
    write_manifest(rows, tmp_path / "m.csv")
    manifest = read_manifest(tmp_path / "m.csv")
    return manifest, load_or_build_cache(manifest, 16000, cache_dir)


def _both(dataset, batch, **order):
    """The DataLoader path's batches (after to_device) and DeviceCropLoader's, for one epoch."""
    loader = [to_device(b, CPU) for b in make_loader(dataset, batch, True, CPU, 0, **order)]
    device = list(DeviceCropLoader(dataset, batch, upload_samples(dataset.cache, CPU), **order))
    return loader, device


@pytest.mark.parametrize("crop, epoch, order", [
    (24000, 0, {}),                                                    # 1 s clips repeated to fill 1.5 s
    (4000, 3, {"seed": 9, "start_batch": 2}),                          # random crops inside the clips
    (4000, 1, {"seed": 9, "rank": 1, "world_size": 3}),                # this rank's share of the order
])
def test_device_batches_equal_the_dataloader_batches(corpus, crop, epoch, order):
    manifest, cache = corpus
    dataset = CropDataset(cache, manifest, list(range(len(manifest.rows))), crop, random_crop=True,
                          seed=order.get("seed", 0))
    dataset.set_epoch(epoch)
    loader, device = _both(dataset, 3, **order)
    assert len(device) == len(loader) == len(DeviceCropLoader(dataset, 3, upload_samples(cache, CPU), **order)) > 1
    for (wave_a, target_a), (wave_b, target_b) in zip(loader, device):
        assert wave_b.shape == (3, 1, crop) and wave_b.dtype == torch.float32 and target_b.dtype == torch.int64
        assert torch.equal(wave_a, wave_b) and torch.equal(target_a, target_b)


def test_evaluation_centre_crops_and_a_single_short_batch_match_too(corpus):
    manifest, cache = corpus
    dataset = CropDataset(cache, manifest, [0, 1, 2], 4000, random_crop=False)
    loader, device = _both(dataset, 4)   # 3 items, one partial batch: kept, as make_loader keeps it
    assert len(device) == len(loader) == 1 and device[0][0].shape == (3, 1, 4000)
    assert torch.equal(loader[0][0], device[0][0]) and torch.equal(loader[0][1], device[0][1])


def test_a_version_2_float32_cache_gathers_the_same_batches(corpus, tmp_path):
    manifest, cache = corpus
    folder = tmp_path / "v2"
    folder.mkdir()
    (np.asarray(cache.samples, dtype=np.float32) / np.float32(32768)).tofile(folder / "samples.f32")
    index = json.loads((cache.folder / "index.json").read_text())
    index.pop("dtype")
    (folder / "index.json").write_text(json.dumps({**index, "version": 2}))
    old = open_cache(folder)
    assert upload_samples(old, CPU).dtype == torch.float32
    dataset = CropDataset(old, manifest, list(range(len(manifest.rows))), 24000, random_crop=True)
    loader, device = _both(dataset, 4)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(loader, device))


def test_a_cache_larger_than_free_device_memory_is_refused_naming_both_sizes(corpus, monkeypatch):
    manifest, cache = corpus
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1000, 80 * 2**30))
    with pytest.raises(UserError, match=rf"needs 0\.00 GiB \({cache.samples.nbytes} bytes\) on cuda:0, "
                                           r"which has 0\.00 GiB \(1000 bytes\) free of 80\.00 GiB"):
        upload_samples(cache, torch.device("cuda:0"))


def test_samples_of_another_cache_are_refused(corpus):
    manifest, cache = corpus
    dataset = CropDataset(cache, manifest, [0, 1], 4000, random_crop=True)
    with pytest.raises(ValueError, match="not those of the dataset's cache"):
        DeviceCropLoader(dataset, 2, torch.zeros(10, dtype=torch.int16))
