"""Crop loader: shapes, int16 on the host and float32 on the device, determinism across epochs,
resumes and workers, padding by repetition, per-row data in arrays, worker defaults."""
import numpy as np
import pytest
import soundfile
import torch

from detector.data import CropDataset, load_or_build_cache, make_loader, read_manifest, write_manifest
from detector.data.cache import INT16_SCALE, WaveformCache
from detector.data.corpora import folder_corpus
from detector.data.loader import crop_or_repeat, epoch_order, resolve_workers, to_device


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
    host, target = next(iter(make_loader(dataset, 5, False, torch.device("cpu"))))
    assert host.shape == (5, 1, 24000) and host.dtype == torch.int16   # half the bytes of float32 to copy
    wave, target = to_device((host, target), torch.device("cpu"))
    assert wave.shape == (5, 1, 24000) and wave.dtype == torch.float32
    torch.testing.assert_close(wave, host.double().div(INT16_SCALE).float(), rtol=0, atol=0)
    assert target.dtype == torch.int64 and set(target.tolist()) <= {0, 1}
    assert wave.abs().max() <= 1
    # a 1 s clip in a 1.5 s crop is repeated from its start
    np.testing.assert_array_equal(wave[0, 0, 16000:].numpy(), wave[0, 0, :8000].numpy())


def test_int16_crops_equal_float32_crops_to_int16_rounding(tmp_path, cache_dir):
    """A float source (not 16-bit) is quantised in the cache; its crops differ from the same
    crops of a float32 cache of the same audio by at most one int16 step."""
    rng = np.random.default_rng(3)
    lines = ["path,label,speaker,system,split"]
    for i in range(6):
        wave = (0.9 * np.sin(np.arange(20000 + 3000 * i) / (3 + i)) * rng.uniform(0.5, 1)).astype(np.float32)
        wave[5] = 1.0   # full scale: clipped to 32767/32768
        soundfile.write(tmp_path / f"c{i}.wav", wave, 16000, subtype="FLOAT")
        lines.append(f"c{i}.wav,{'bonafide' if i % 2 else 'spoof'},s{i},{'-' if i % 2 else 'A1'},train")
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    manifest = read_manifest(tmp_path / "m.csv")
    int16 = load_or_build_cache(manifest, 16000, cache_dir)
    float32 = WaveformCache(tmp_path, 16000, int16.offsets, int16.lengths, [],
                            np.concatenate([np.asarray(soundfile.read(tmp_path / f"c{i}.wav", dtype="float32")[0])
                                            for i in range(6)]))
    rows = list(range(6))
    for random_crop in (True, False):
        batches = [[to_device(b, torch.device("cpu"))
                    for b in make_loader(CropDataset(cache, manifest, rows, 24000, random_crop, seed=5), 3,
                                         random_crop, torch.device("cpu"), 0, seed=5)]
                   for cache in (int16, float32)]
        assert len(batches[0]) == 2
        for (a, target_a), (b, target_b) in zip(*batches):
            assert a.dtype == b.dtype == torch.float32 and torch.equal(target_a, target_b)
            assert (a - b).abs().max() <= 1 / INT16_SCALE + 1e-7
            assert (a - b).abs().max() > 0   # the float source is not on the int16 grid


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
    full = dataset.cache.stored(dataset.rows[0])
    np.testing.assert_array_equal(dataset[0][0][0].numpy(), full[6000:10000])


def test_window_starts_cover_the_clip():
    from detector.data.loader import window_starts
    np.testing.assert_array_equal(window_starts(10, 4, 2), [0, 2, 4, 6])
    np.testing.assert_array_equal(window_starts(11, 4, 3), [0, 3, 6, 7])
    np.testing.assert_array_equal(window_starts(3, 4, 2), [0])
    np.testing.assert_array_equal(window_starts(4, 4, 2), [0])
    np.testing.assert_array_equal(window_starts(5, 4, 2), [0, 1])


def test_gather_windows_reads_what_crop_or_repeat_reads():
    """The device/exported windowing and the cache's, on clips shorter than, equal to and longer than a window."""
    from detector.data.loader import gather_windows, window_starts
    for length in (3, 7, 8, 9, 29):
        wave = np.arange(length, dtype=np.float32) * 0.01
        starts = window_starts(length, 8, 3)
        expected = np.stack([crop_or_repeat(wave, 8, int(start)) for start in starts])
        np.testing.assert_array_equal(gather_windows(torch.from_numpy(wave), starts, 8).numpy(), expected)
        batch = torch.from_numpy(np.stack([wave, -wave]))   # (batch, time) -> (batch, windows, window)
        np.testing.assert_array_equal(gather_windows(batch, starts, 8)[1].numpy(), -expected)


def test_windows_cover_each_clip_and_aggregate_per_clip(tmp_path, folder_corpus, cache_dir):
    from detector.data.loader import WindowDataset, aggregate_windows
    dataset = _dataset(tmp_path, folder_corpus, cache_dir, 4000, random_crop=False)
    windows = WindowDataset(dataset.cache, read_manifest(tmp_path / "m.csv"), dataset.rows, 6000, 4000)
    assert len(windows) == 4 * len(dataset.rows)   # 1 s clips: starts 0, 4000, 8000, 10000
    np.testing.assert_array_equal(windows[3][0][0].numpy(), dataset.cache.stored(dataset.rows[0])[10000:])
    for name in ("rows", "targets", "clip_of_window", "starts"):   # arrays, shared copy-on-write by workers
        assert getattr(windows, name).dtype == np.int64
    scores = np.arange(len(windows), dtype=float)
    mean = aggregate_windows(scores, windows.clip_of_window, len(dataset.rows))
    assert mean[0] == 1.5 and mean[1] == 5.5
    assert aggregate_windows(scores, windows.clip_of_window, len(dataset.rows), "max")[1] == 7
    assert aggregate_windows(-scores, windows.clip_of_window, len(dataset.rows), "min")[1] == -7
    with pytest.raises(ValueError, match="mean, max, min"):
        aggregate_windows(scores, windows.clip_of_window, len(dataset.rows), "median")


def _oversampled_manifest(tmp_path, corpus, repeat: str):
    rows = folder_corpus(corpus, tmp_path / "m.csv", (1, 0, 0))
    rows[0]["repeat"] = repeat
    write_manifest(rows, tmp_path / "m.csv")
    return read_manifest(tmp_path / "m.csv")


def test_oversampled_rows_repeat_with_their_own_crops(tmp_path, folder_corpus, cache_dir):
    manifest = _oversampled_manifest(tmp_path, folder_corpus, "3")
    cache = load_or_build_cache(manifest, 16000, cache_dir)
    train = CropDataset(cache, manifest, [0, 1], 4000, random_crop=True)
    np.testing.assert_array_equal(train.rows, [0, 0, 0, 1])
    np.testing.assert_array_equal(train.copy, [0, 1, 2, 0])
    np.testing.assert_array_equal(train.targets, [manifest.rows[0].target] * 3 + [manifest.rows[1].target])
    assert train.rows.dtype == train.copy.dtype == train.targets.dtype == np.int64
    assert not torch.equal(train[0][0], train[1][0])   # each copy has its own crop
    np.testing.assert_array_equal(CropDataset(cache, manifest, [0, 1], 4000, random_crop=False).rows, [0, 1])
    with pytest.raises(ValueError, match=r"m\.csv:2: repeat 'x'"):
        CropDataset(cache, _oversampled_manifest(tmp_path, folder_corpus, "x"), [0, 1], 4000, random_crop=True)


def test_epoch_order_shares_one_permutation_between_ranks():
    shares = [epoch_order(10, seed=3, epoch=1, rank=r, world_size=4) for r in range(4)]
    assert all(s.dtype == np.int64 and len(s) == 3 for s in shares)   # 10 padded to 12 by wrapping
    combined = np.concatenate(shares)
    assert set(combined.tolist()) == set(range(10)) and len(combined) == 12
    assert not np.array_equal(epoch_order(10, 3, 1), epoch_order(10, 3, 2))


def test_workers_see_the_same_crops_as_the_main_process(tmp_path, folder_corpus, cache_dir):
    dataset = _dataset(tmp_path, folder_corpus, cache_dir, 4000, random_crop=True, seed=7)
    dataset.set_epoch(2)
    main = list(make_loader(dataset, 4, True, torch.device("cpu"), 0, seed=7, start_batch=1))
    workers = list(make_loader(dataset, 4, True, torch.device("cpu"), 2, seed=7, start_batch=1))
    assert len(main) == len(workers) == len(dataset) // 4 - 1
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(main, workers))


def test_worker_count_is_auto_by_default_and_workers_persist_only_for_evaluation(
        tmp_path, folder_corpus, cache_dir, monkeypatch):
    assert resolve_workers(-1, torch.device("cpu")) == 0
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert resolve_workers(-1, torch.device("cuda")) == 8
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert resolve_workers(-1, torch.device("cuda")) == 2 and resolve_workers(3, torch.device("cuda")) == 3
    with pytest.raises(ValueError, match="num_workers"):
        resolve_workers(-2, torch.device("cpu"))
    dataset = _dataset(tmp_path, folder_corpus, cache_dir, 4000, random_crop=False)
    assert make_loader(dataset, 4, False, torch.device("cpu")).num_workers == 0
    evaluation = make_loader(dataset, 4, False, torch.device("cpu"), 2)
    training = make_loader(dataset, 4, True, torch.device("cpu"), 2)
    assert evaluation.persistent_workers and not training.persistent_workers


def test_loader_workers_ignore_the_signals_the_training_loop_handles():
    """A Ctrl-C or SIGTERM to the process group must not kill the workers before the main
    process has saved its position; the worker start-up ignores both signals."""
    import signal

    from detector.data.loader import _start_worker

    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        _start_worker(0)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        import gc

        gc.unfreeze()
