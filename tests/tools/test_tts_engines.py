"""The RHVoice and GnuSpeech spoof engines of the corpus builder.

The protocol and error paths run everywhere (fakes stand in for the engines); the tests
marked ``engine`` in their names need the real engines and skip, with the reason, where
they are missing: RHVoice needs ``rhvoice-wrapper`` and Debian's ``librhvoice5`` with
voices; GnuSpeech needs Node and an npm folder holding the package, named by the
environment variable ``CORPUS_GNUSPEECH_NPM`` (``install_gnuspeech`` makes one).
"""

from __future__ import annotations

import ctypes.util
import json
import os
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tools.corpus_build import gnuspeech, rhvoice
from tools.corpus_build.gnuspeech import (
    VERSION,
    VOICES,
    GnuSpeechError,
    default_seed,
    install_command,
    install_gnuspeech,
    parse_results,
    request_lines,
    synthesize_gnuspeech,
    synthesize_gnuspeech_batch,
)
from tools.corpus_build.tools import BuildError

TEXTS = ["Please leave your message after the tone.", "Thank you for calling,\n goodbye."]


# --- GnuSpeech: requests, results, install (no Node) ---------------------------------------

def test_request_lines_one_json_request_per_text():
    lines = request_lines(TEXTS, "female", seeds=[1, -1]).splitlines()
    assert [json.loads(x) for x in lines] == [
        {"text": TEXTS[0], "voice": "female", "seed": 1},
        {"text": "Thank you for calling, goodbye.", "voice": "female", "seed": 2**32 - 1},
    ]


def test_default_seeds_are_stable_per_voice_and_text():
    first = [json.loads(x)["seed"] for x in request_lines(TEXTS, "male").splitlines()]
    again = [json.loads(x)["seed"] for x in request_lines(TEXTS, "male").splitlines()]
    assert first == again == [default_seed("male", t) for t in TEXTS]
    assert first[0] != first[1] and default_seed("female", TEXTS[0]) != first[0]
    assert all(0 <= s < 2**32 for s in first)


def test_request_lines_rejects_unknown_voice_and_seed_count():
    with pytest.raises(ValueError, match="no GnuSpeech voice"):
        request_lines(TEXTS, "robot")
    with pytest.raises(ValueError, match="one seed per text"):
        request_lines(TEXTS, "male", seeds=[1])


def test_parse_results_in_input_order_with_errors():
    stdout = ('{"index": 1, "error": "the engine wrote no audio"}\n\n'
              '{"index": 0, "wav": "/out/000000.wav"}\n')
    ok, err = parse_results(stdout, TEXTS)
    assert ok == Path("/out/000000.wav")
    assert isinstance(err, GnuSpeechError) and err.index == 1 and "wrote no audio" in str(err)
    with pytest.raises(BuildError, match=r"no result for texts \[1\]"):
        parse_results('{"index": 0, "wav": "/x.wav"}\n', TEXTS)


def test_install_command_pins_the_package_and_its_dependency(tmp_path):
    cmd = install_command(tmp_path)
    assert cmd[:4] == ["npm", "install", "--prefix", str(tmp_path)]
    assert f"@echogarden/gnuspeech-wasm@{VERSION}" in cmd and "wasm-heap-manager@0.4.1" in cmd


def fake_installed(folder: Path, version: str = VERSION) -> Path:
    pkg = folder / "node_modules" / "@echogarden" / "gnuspeech-wasm"
    pkg.mkdir(parents=True)
    (pkg / "package.json").write_text(json.dumps({"name": "@echogarden/gnuspeech-wasm", "version": version}))
    return folder


def test_install_is_skipped_when_the_pinned_version_is_there(tmp_path, monkeypatch):
    monkeypatch.setattr(gnuspeech, "run", lambda *a, **k: pytest.fail("npm ran"))
    assert install_gnuspeech(fake_installed(tmp_path)) == tmp_path


def test_install_runs_npm_for_another_version(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(gnuspeech, "require", lambda tool, package: f"/usr/bin/{tool}")
    monkeypatch.setattr(gnuspeech, "run", lambda cmd, **k: calls.append(cmd))
    fake_installed(tmp_path, "0.2.1")
    with pytest.raises(BuildError, match="did not leave"):
        install_gnuspeech(tmp_path)
    assert calls == [["/usr/bin/npm", *install_command(tmp_path)[1:]]]


def test_batch_fails_with_the_install_command_when_not_installed(tmp_path):
    with pytest.raises(BuildError, match="npm install --prefix"):
        synthesize_gnuspeech_batch(TEXTS, tmp_path)


def fake_script_run(cmd, stdin=None, cwd=None):
    """Stands in for `node gnuspeech_say.mjs NPM OUT`: a WAV per request, an error for empty text."""
    out_dir, lines = Path(cmd[-1]), []
    for i, line in enumerate(stdin.decode().splitlines()):
        req = json.loads(line)
        if not req["text"]:
            lines.append(json.dumps({"index": i, "error": "the engine wrote no audio"}))
            continue
        wav = out_dir / f"{i:06d}.wav"
        sf.write(wav, np.full(len(req["text"]) * 10, (req["seed"] % 100) / 200), 44100, subtype="PCM_16")
        lines.append(json.dumps({"index": i, "wav": str(wav)}))
    return ("\n".join(lines) + "\n").encode()


def test_batch_protocol_with_a_fake_script(tmp_path, monkeypatch):
    monkeypatch.setattr(gnuspeech, "require", lambda tool, package: "node")
    monkeypatch.setattr(gnuspeech, "run", fake_script_run)
    npm = fake_installed(tmp_path)
    out = synthesize_gnuspeech_batch(["abc", "", "abcd"], npm, "baby", seeds=[50, 1, 20], skip_errors=True)
    assert out[1] is None
    (a, sr_a), (b, _) = out[0], out[2]
    assert sr_a == 44100 and len(a) == 30 and len(b) == 40
    assert np.allclose(a, 0.25, atol=1e-4) and np.allclose(b, 0.1, atol=1e-4)
    with pytest.raises(GnuSpeechError, match="text 1"):
        synthesize_gnuspeech_batch(["abc", ""], npm)
    x, sr = synthesize_gnuspeech("hello", npm, seed=10)
    assert sr == 44100 and len(x) == 50 and np.allclose(x, 0.05, atol=1e-4)
    assert synthesize_gnuspeech_batch([], npm) == []


# --- GnuSpeech: the real Node script against a fake WebAssembly package ---------------------

FAKE_WASM = r"""
// A stand-in for wasm/gnuspeech.js: "synthesis" writes a WAV of 4 samples from the platform's
// random seed and the text length; empty text writes nothing; text "throw" throws a number.
export default async function initializer() {
	const files = new Map()
	const strings = new Map()
	return {
		FS: {
			writeFile: (path, data) => files.set(path, data),
			readFile: (path) => {
				if (!files.has(path)) { throw { name: 'ErrnoError', errno: 44 } }
				return files.get(path)
			},
			unlink: (path) => { if (!files.delete(path)) { throw { name: 'ErrnoError', errno: 44 } } },
		},
		strings,
		_GnuSpeech_synthesizeToFile(text, out, config, params) {
			const t = strings.get(text)
			if (t === 'throw') { throw 1234 }
			if (!t) { return }
			const seed = new Uint8Array(4)
			crypto.getRandomValues(seed)
			const voice = /voice_name = (\w+)/.exec(files.get(strings.get(config) + '/trm_control_model.txt'))[1]
			const wav = Buffer.alloc(52)
			wav.write('RIFF', 0); wav.writeUInt32LE(44, 4); wav.write('WAVEfmt ', 8); wav.writeUInt32LE(16, 16)
			wav.writeUInt16LE(1, 20); wav.writeUInt16LE(1, 22)
			wav.writeUInt32LE(44100, 24); wav.writeUInt32LE(88200, 28)
			wav.writeUInt16LE(2, 32); wav.writeUInt16LE(16, 34); wav.write('data', 36); wav.writeUInt32LE(8, 40)
			wav.writeInt16LE(seed[0], 44); wav.writeInt16LE(seed[1], 46); wav.writeInt16LE(t.length, 48)
			wav.writeInt16LE(voice.length, 50)
			files.set(strings.get(out), new Uint8Array(wav))
		},
	}
}
"""
FAKE_HEAP = """
let next = 1
export function wrapEmscriptenModuleHeap(m) {
	return {
		allocNullTerminatedUtf8String(s) {
			const address = next++
			m.strings.set(address, s)
			return { address, free() {} }
		},
	}
}
"""


@pytest.fixture
def fake_npm(tmp_path):
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    pkg = fake_installed(tmp_path)
    pkg = pkg / "node_modules" / "@echogarden" / "gnuspeech-wasm"
    manifest = {"name": "@echogarden/gnuspeech-wasm", "version": VERSION, "type": "module",
                "main": "./dist/exports/GnuSpeech.js"}
    (pkg / "package.json").write_text(json.dumps(manifest))
    (pkg / "wasm").mkdir()
    (pkg / "wasm" / "gnuspeech.js").write_text(FAKE_WASM)
    (pkg / "dist" / "utilities").mkdir(parents=True)
    (pkg / "dist" / "exports").mkdir()
    (pkg / "dist" / "exports" / "GnuSpeech.js").write_text("export {}\n")
    (pkg / "dist" / "utilities" / "DefaultTrmControlModel.js").write_text(
        "export const defaultTrmControlModelFileContent = 'voice_name = male\\n'\n")
    heap = tmp_path / "node_modules" / "wasm-heap-manager"
    heap.mkdir(parents=True)
    (heap / "package.json").write_text(json.dumps({"name": "wasm-heap-manager", "version": "0.4.1",
                                                   "type": "module", "main": "index.js"}))
    (heap / "index.js").write_text(FAKE_HEAP)
    return tmp_path


def test_script_seeds_each_utterance_and_never_returns_stale_audio(fake_npm):
    texts = ["hello", "", "hello", "throw", "hello there"]
    out = synthesize_gnuspeech_batch(texts, fake_npm, "female", seeds=[7, 7, 7, 7, 8], skip_errors=True)
    assert out[1] is None and out[3] is None  # empty text: no file, not the previous one
    first, again, other = (np.round(out[i][0] * 32768).astype(int) for i in (0, 2, 4))
    assert out[0][1] == 44100
    assert list(first) == list(again) and first[2] == 5 and first[3] == len("female")
    assert list(first[:2]) != list(other[:2]) and other[2] == len("hello there")
    with pytest.raises(GnuSpeechError, match="C\\+\\+ exception"):
        synthesize_gnuspeech_batch(["throw"], fake_npm)


# --- GnuSpeech: the real engine -----------------------------------------------------------

@pytest.fixture(scope="module")
def gnuspeech_npm():
    folder = os.environ.get("CORPUS_GNUSPEECH_NPM")
    if not folder:
        pytest.skip("CORPUS_GNUSPEECH_NPM (an npm folder holding @echogarden/gnuspeech-wasm) is not set")
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    return install_gnuspeech(Path(folder))


def test_gnuspeech_engine_voices_and_determinism(gnuspeech_npm):
    waves = {}
    for voice in VOICES:
        (x, sr), (y, _) = synthesize_gnuspeech_batch([TEXTS[0]] * 2, gnuspeech_npm, voice)
        assert sr == 44100 and len(x) > sr and np.array_equal(x, y)
        assert np.abs(x).max() <= 1.0 and np.sqrt(np.mean(x**2)) > 0.01
        waves[voice] = x
    assert not np.array_equal(waves["male"][:44100], waves["female"][:44100])
    alone, _ = synthesize_gnuspeech(TEXTS[0], gnuspeech_npm, "baby")
    assert np.array_equal(alone, waves["baby"])  # a batch gives what single calls give
    (a, _), (b, _) = synthesize_gnuspeech_batch([TEXTS[0]] * 2, gnuspeech_npm, seeds=[1, 2])
    assert not (len(a) == len(b) and np.array_equal(a, b))


# --- RHVoice: error paths (no engine) -------------------------------------------------------

@pytest.fixture
def fresh_rhvoice(monkeypatch):
    monkeypatch.setattr(rhvoice, "_ENGINE", None)
    return rhvoice


def test_rhvoice_missing_package_names_it(fresh_rhvoice, monkeypatch):
    monkeypatch.setitem(sys.modules, "rhvoice_wrapper.rhvoice_proxy", None)
    with pytest.raises(BuildError, match="pip install rhvoice-wrapper==0.8.0"):
        fresh_rhvoice.rhvoice_voices()


def fake_proxy(voices: dict) -> types.ModuleType:
    """A ``rhvoice_wrapper.rhvoice_proxy`` whose engine 'speaks' a ramp as long as the text."""

    class Params:
        def __init__(self, d=None):
            self.d = d or {}

        def copy_with(self, d):
            return Params({**self.d, **d})

    class Engine:
        def __init__(self, lib_path):
            self.lib_path, self.params = lib_path, Params()

        def init(self, play, set_rate, data_path, config_path):
            self.play, self.set_rate = play, set_rate
            self.voices = {k.lower(): {"name": k, "lang": lang} for k, lang in voices.items()}

        def generate(self, text, params):
            self.set_rate(24000, None)
            samples = (ctypes.c_short * len(text))(*range(0, 1000 * len(text), 1000))
            self.play(samples, len(text), None)
            self.last_profile = params.d["voice_profile"]

    return types.SimpleNamespace(Engine=Engine)


def test_rhvoice_missing_library_says_how_to_install(fresh_rhvoice, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "rhvoice_wrapper.rhvoice_proxy", fake_proxy({}))
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    with pytest.raises(BuildError, match="apt-get install librhvoice5"):
        fresh_rhvoice.synthesize_rhvoice("slt", "hello")


def test_rhvoice_voices_by_language_and_samples(fresh_rhvoice, monkeypatch, tmp_path):
    (tmp_path / "voices").mkdir()
    monkeypatch.setattr(fresh_rhvoice, "DATA_PATH", tmp_path)
    monkeypatch.setitem(sys.modules, "rhvoice_wrapper.rhvoice_proxy",
                        fake_proxy({"Slt": "en", "Anna": "ru", "Bdl": "en"}))
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "libRHVoice.so.5")
    assert fresh_rhvoice.rhvoice_voices() == {"en": ["bdl", "slt"], "ru": ["anna"]}
    x, sr = fresh_rhvoice.synthesize_rhvoice("SLT", "abc")
    assert sr == 24000 and x.dtype == np.float64 and np.allclose(x * 32768, [0, 1000, 2000])
    assert fresh_rhvoice._ENGINE.engine.last_profile == "Slt"
    with pytest.raises(BuildError, match="no RHVoice voice 'zoe'"):
        fresh_rhvoice.synthesize_rhvoice("zoe", "abc")


def test_rhvoice_free_voices_exclude_nc_and_nd():
    assert set(rhvoice.FREE_VOICES) == {"alan", "bdl", "clb", "slt", "aleksandr", "anna", "elena", "irina",
                                        "aleksandr-hq"}


# --- RHVoice: the real engine ---------------------------------------------------------------

@pytest.fixture
def rhvoice_engine(monkeypatch):
    pytest.importorskip("rhvoice_wrapper", reason="rhvoice-wrapper is not installed")
    if ctypes.util.find_library("RHVoice") is None:
        pytest.skip("libRHVoice (Debian non-free librhvoice5) is not installed")
    if not (rhvoice.DATA_PATH / "voices").is_dir():
        pytest.skip(f"no RHVoice voices under {rhvoice.DATA_PATH}")
    return rhvoice


def test_rhvoice_engine_voices_and_determinism(rhvoice_engine):
    voices = rhvoice_engine.rhvoice_voices()
    assert "slt" in voices.get("en", [])
    x, sr = rhvoice_engine.synthesize_rhvoice("slt", TEXTS[0])
    y, _ = rhvoice_engine.synthesize_rhvoice("slt", TEXTS[0])
    assert sr == 24000 and len(x) > sr and np.array_equal(x, y)
    assert np.abs(x).max() <= 1.0 and np.sqrt(np.mean(x**2)) > 0.01
    z, _ = rhvoice_engine.synthesize_rhvoice("bdl", TEXTS[0])
    assert not (len(z) == len(x) and np.array_equal(z, x))
