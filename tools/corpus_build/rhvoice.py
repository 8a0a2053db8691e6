"""RHVoice (statistical parametric HTS synthesis) as a spoof TTS family for the corpus builder.

The engine is RHVoice 1.8.0 from Debian 12's non-free component (``librhvoice5``,
``librhvoice-core7``) with the voices of ``rhvoice-english`` and ``rhvoice-russian``
under ``/usr/share/RHVoice``; Python talks to it through the ctypes bindings of PyPI's
``rhvoice-wrapper`` (pure Python). PyPI's ``rhvoice-wrapper-bin`` has no Linux wheel:
its source build clones RHVoice from GitHub, so it cannot be installed offline.

Voices (data 1.8.0+dfsg-3, ``/usr/share/doc/rhvoice-russian/copyright``): en alan, bdl,
clb, slt (LGPL-2.1+; bdl/clb/slt are trained on CMU ARCTIC) and evgeniy-eng, lyubov
(CC BY-NC-ND 4.0); ru aleksandr, anna, elena, irina (LGPL-2.1+), aleksandr-hq
(CC BY-SA 4.0) and arina, artemiy, evgeniy-rus, mikhail, pavel, tatiana, victoria,
vitaliy, yuriy (CC BY-NC-ND 4.0). ``FREE_VOICES`` lists the ones without a
non-commercial/no-derivatives clause.

Synthesis is deterministic: HTS parameter generation and the vocoder draw no random
numbers (checked: the same text gives the same samples, in one process and across two).
Speed: 0.024 s of CPU per second of speech (10 English sentences, 5 voices), 24 kHz output.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

import numpy as np

from tools.corpus_build.tools import BuildError

DATA_PATH = Path("/usr/share/RHVoice")
# Licence of each voice's data, from the Debian package's copyright file.
VOICE_LICENCES = {
    "alan": "LGPL-2.1+", "bdl": "LGPL-2.1+", "clb": "LGPL-2.1+", "slt": "LGPL-2.1+",
    "evgeniy-eng": "CC-BY-NC-ND-4.0", "lyubov": "CC-BY-NC-ND-4.0",
    "aleksandr": "LGPL-2.1+", "anna": "LGPL-2.1+", "elena": "LGPL-2.1+", "irina": "LGPL-2.1+",
    "aleksandr-hq": "CC-BY-SA-4.0",
    **{v: "CC-BY-NC-ND-4.0" for v in ("arina", "artemiy", "evgeniy-rus", "mikhail", "pavel", "tatiana",
                                       "victoria", "vitaliy", "yuriy")},
}
FREE_VOICES = tuple(sorted(v for v, lic in VOICE_LICENCES.items() if "-NC-" not in lic and "-ND-" not in lic))
INSTALL_HINT = ("enable Debian's non-free component and `apt-get install librhvoice5 rhvoice-english "
                "rhvoice-russian`, then `pip install rhvoice-wrapper==0.8.0`")


class _Engine:
    """One RHVoice engine; the callbacks collect the samples of the message being spoken."""

    def __init__(self, data_path: Path) -> None:
        try:
            from rhvoice_wrapper.rhvoice_proxy import Engine
        except ImportError:
            raise BuildError("corpus_build: RHVoice needs the Python package 'rhvoice-wrapper' "
                             "(`pip install rhvoice-wrapper==0.8.0`)") from None
        lib = ctypes.util.find_library("RHVoice")
        if lib is None or not (data_path / "voices").is_dir():
            raise BuildError(f"corpus_build: RHVoice library or voices ({data_path}) not found; {INSTALL_HINT}")
        self.chunks: list[np.ndarray] = []
        self.sample_rate = 0
        self.engine = Engine(lib_path=lib)

        def play(samples, count, _user):  # int16 samples, valid only during the call
            self.chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
            return 1

        def set_rate(rate, _user):
            self.sample_rate = rate
            return 1

        # The bindings keep the ctypes callbacks alive; config_path: none, the defaults.
        self.engine.init(play, set_rate, data_path=str(data_path), config_path=str(data_path / "no-config"))
        self.voices = {v["name"].lower(): v for v in self.engine.voices.values()}

    def say(self, voice: str, text: str) -> tuple[np.ndarray, int]:
        if voice.lower() not in self.voices:
            raise BuildError(f"corpus_build: no RHVoice voice {voice!r} (have: {', '.join(sorted(self.voices))})")
        params = self.engine.params.copy_with({"voice_profile": self.voices[voice.lower()]["name"]})
        self.chunks, self.sample_rate = [], 0
        self.engine.generate(text, params)
        wave = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        return wave.astype(np.float64) / 32768.0, self.sample_rate


_ENGINE: _Engine | None = None


def _engine() -> _Engine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _Engine(DATA_PATH)
    return _ENGINE


def rhvoice_voices() -> dict[str, list[str]]:
    """ISO 639-1 language -> the names (lower case, sorted) of the installed RHVoice voices."""
    out: dict[str, list[str]] = {}
    for name, info in _engine().voices.items():
        out.setdefault(info["lang"], []).append(name)
    return {lang: sorted(names) for lang, names in sorted(out.items())}


def synthesize_rhvoice(voice: str, text: str) -> tuple[np.ndarray, int]:
    """Synthesise ``text`` with RHVoice voice ``voice``: (mono float64 wave in [-1, 1], Hz).

    The engine is loaded once per process. Raises ``BuildError`` when the package, the
    library or the voice is missing.
    """
    return _engine().say(voice, text)
