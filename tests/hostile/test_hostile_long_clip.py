"""A two-hour clip is streamed into the waveform cache in blocks: memory stays far below the
clip's size, and the cache holds every sample (training crops and evaluation windows see it all)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import torchaudio

from detector.data import read_manifest
from detector.data.audio import ingest_filter
from detector.data.cache import open_cache
from tests.hostile.files import tone, wav_header

REPO = Path(__file__).resolve().parents[2]
HEAD_S = 10.0

# Runs in a fresh process so its peak RSS measures only the cache build. torch and the resampling
# filter's module are imported and the convolution run once first: their one-time set-up (~40 MiB)
# does not grow with the clip.
CHILD = r"""
import json, resource, sys
import torch, torchaudio
from detector.data import load_or_build_cache, read_manifest
from detector.data.audio import ingest_filter
torchaudio.functional.resample(torch.rand(32000), 8000, 16000, **ingest_filter())
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # MiB on Linux
before = peak()
for manifest, rate, cache_dir in json.loads(sys.argv[1]):
    load_or_build_cache(read_manifest(manifest), rate, cache_dir, workers=1)
print(json.dumps({"growth_mib": peak() - before}))
"""


def write_sparse_wav(path: Path, seconds: float, rate: int) -> np.ndarray:
    """A 16-bit WAV of ``seconds``: a tone for the first HEAD_S seconds, then zeros left as a
    hole in a sparse file, so a two-hour clip costs almost no disk or time to write."""
    frames = round(seconds * rate)
    head = (tone(HEAD_S, rate, 300.0) * 32767).astype("<i2")
    with open(path, "wb") as handle:
        handle.write(wav_header(frames, rate))
        handle.write(head.tobytes())
        handle.truncate(44 + 2 * frames)
    return head.astype(np.float32) / 32768


def test_two_hour_clip_is_streamed_into_the_cache_with_bounded_memory(tmp_path):
    two_hours = write_sparse_wav(tmp_path / "two_hours.wav", 2 * 3600, 8000)
    twenty_minutes = write_sparse_wav(tmp_path / "twenty_minutes.wav", 20 * 60, 8000)
    (tmp_path / "a.csv").write_text("path,label,speaker,system,split\ntwo_hours.wav,bonafide,s,-,test\n")
    (tmp_path / "b.csv").write_text("path,label,speaker,system,split\ntwenty_minutes.wav,spoof,s,A1,test\n")
    jobs = [[str(tmp_path / "a.csv"), 8000, str(tmp_path / "cache")],      # 2 h, streamed as read
            [str(tmp_path / "b.csv"), 16000, str(tmp_path / "cache")]]     # 20 min, resampled in blocks
    result = subprocess.run([sys.executable, "-c", CHILD, json.dumps(jobs)], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    growth = json.loads(result.stdout.strip().splitlines()[-1])["growth_mib"]
    # Decoding the two-hour clip whole would take 220 MiB as float32 at 8 kHz (the twenty-minute
    # one 37 + 73 MiB at 8 and 16 kHz): streaming keeps the peak to a few blocks and one spill buffer.
    assert growth < 40, f"peak memory grew by {growth:.0f} MiB while caching the long clips"

    caches = {open_cache(folder).sample_rate: open_cache(folder) for folder in (tmp_path / "cache").iterdir()}
    long_cache = caches[8000]
    assert long_cache.lengths.tolist() == [2 * 3600 * 8000]   # every sample kept: nothing cropped
    wave = long_cache.waveform(0)
    np.testing.assert_array_equal(wave[:two_hours.size], two_hours)
    assert not np.any(wave[two_hours.size:two_hours.size + 8000]) and not np.any(wave[-8000:])

    resampled = caches[16000]
    assert resampled.lengths.tolist() == [20 * 60 * 16000]
    expected = torchaudio.functional.resample(torch.from_numpy(twenty_minutes), 8000, 16000,
                                              **ingest_filter()).numpy()
    head = round((HEAD_S - 0.5) * 16000)   # away from the end of the tone, where the reference has no context
    # the cache stores int16: within half a step (1/65536) of the float result, plus float rounding
    np.testing.assert_allclose(resampled.waveform(0)[:head], expected[:head], atol=1 / 65536 + 1e-6)
    assert read_manifest(tmp_path / "a.csv").rows[0].path == "two_hours.wav"
