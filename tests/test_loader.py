"""Crop loader: shapes, dtype, determinism across epochs/resumes, padding by repetition."""
import numpy as np
import pytest
import torch

from detector.data import CropDataset, load_or_build_cache, make_loader, read_manifest, write_manifest
from detector.data.corpora import folder_corpus
from detector.data.loader import crop_or_repeat


def _dataset(tmp_path, corpus, cache_dir, crop, random_crop, seed=0):
    write_manifest(folder_corpus(corpus, tmp_path / "m.csv", (1, 0, 0)), tmp_path / "m.csv")
    manifest = read_manifest(tmp_path / "m.csv")
    cache = load_or_build_cache(manifest, 16000, cache_dir)
    return CropDataset(cache, manifest, list(range(len(manifest.rows))), crop, random_crop, seed)


def test_crop_or_repeat():
    wave = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(crop_or_repeat(wave, 12, 0), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1])
    np.testing.assert_array_equal(crop_or_repeat(wave, 3, 2), [2, 3, 4])


def test_batches_have_the_contract_shape_and_labels(tmp_path, folder_corpus, cache_dir):
    dataset = _dataset(tmp_path, folder_corpus, cache_dir, 24000, random_crop=False)
    wave, target = next(iter(make_loader(dataset, 5, False, torch.device("cpu"))))
    assert wave.shape == (5, 1, 24000) and wave.dtype == torch.float32
    assert target.dtype == torch.int64 and set(target.tolist()) <= {0, 1}
    assert wave.abs().max() <= 1
    # a 1 s clip in a 1.5 s crop is repeated from its start
    np.testing.assert_array_equal(wave[0, 0, 16000:].numpy(), wave[0, 0, :8000].numpy())


def test_random_crops_depend_only_on_seed_and_epoch(tmp_path, folder_corpus, cache_dir):
    dataset = _dataset(tmp_path, folder_corpus, cache_dir, 4000, random_crop=True, seed=7)

    def epoch_batches(epoch):
        dataset.set_epoch(epoch)
        return [b[0] for b in make_loader(dataset, 4, True, torch.device("cpu"), seed=7)]

    first, again, other = epoch_batches(0), epoch_batches(0), epoch_batches(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))
    assert len(first) == len(dataset) // 4   # the partial batch is dropped when training


def test_evaluation_crop_is_the_centre(tmp_path, folder_corpus, cache_dir):
    dataset = _dataset(tmp_path, folder_corpus, cache_dir, 4000, random_crop=False)
    full = dataset.cache.waveform(dataset.rows[0])
    np.testing.assert_array_equal(dataset[0][0][0].numpy(), full[6000:10000])


def test_window_starts_cover_the_clip():
    from detector.data.loader import window_starts
    np.testing.assert_array_equal(window_starts(10, 4, 2), [0, 2, 4, 6])
    np.testing.assert_array_equal(window_starts(11, 4, 3), [0, 3, 6, 7])
    np.testing.assert_array_equal(window_starts(3, 4, 2), [0])


def test_windows_cover_each_clip_and_aggregate_per_clip(tmp_path, folder_corpus, cache_dir):
    from detector.data.loader import WindowDataset, aggregate_windows
    dataset = _dataset(tmp_path, folder_corpus, cache_dir, 4000, random_crop=False)
    windows = WindowDataset(dataset.cache, read_manifest(tmp_path / "m.csv"), dataset.rows, 6000, 4000)
    assert len(windows) == 4 * len(dataset.rows)   # 1 s clips: starts 0, 4000, 8000, 10000
    np.testing.assert_array_equal(windows[3][0][0].numpy(), dataset.cache.waveform(dataset.rows[0])[10000:])
    scores = np.arange(len(windows), dtype=float)
    mean = aggregate_windows(scores, windows.clip_of_window, len(dataset.rows))
    assert mean[0] == 1.5 and mean[1] == 5.5
    assert aggregate_windows(scores, windows.clip_of_window, len(dataset.rows), "max")[1] == 7


def _oversampled_manifest(tmp_path, corpus, repeat: str):
    rows = folder_corpus(corpus, tmp_path / "m.csv", (1, 0, 0))
    rows[0]["repeat"] = repeat
    write_manifest(rows, tmp_path / "m.csv")
    return read_manifest(tmp_path / "m.csv")


def test_oversampled_rows_repeat_with_their_own_crops(tmp_path, folder_corpus, cache_dir):
    manifest = _oversampled_manifest(tmp_path, folder_corpus, "3")
    cache = load_or_build_cache(manifest, 16000, cache_dir)
    train = CropDataset(cache, manifest, [0, 1], 4000, random_crop=True)
    assert train.rows == [0, 0, 0, 1] and train.targets[:3] == [manifest.rows[0].target] * 3
    assert not torch.equal(train[0][0], train[1][0])   # each copy has its own crop
    assert CropDataset(cache, manifest, [0, 1], 4000, random_crop=False).rows == [0, 1]
    with pytest.raises(ValueError, match=r"m\.csv:2: repeat 'x'"):
        CropDataset(cache, _oversampled_manifest(tmp_path, folder_corpus, "x"), [0, 1], 4000, random_crop=True)
