"""``reverb``: a room impulse response (the study's room, a jittered shoebox, synthetic decay or measured)."""
from ..attacks import AddReverb, AddRoomReverb
from ..registry import NumberKey, WordKey, register_family
from ..sampling import Uniform

REVERB_MODELS = ("auto", "study", "shoebox", "synthetic", "measured")
REVERB_MODEL_MEANING = (
    "auto: study for fixed RT60s, synthetic for a range; "
    "study: the laundered-ASVspoof study's room by its recipe verbatim, one response per RT60, "
    "measured T20 longer than the name (0.68 s for 0.6, 1.08 s for 0.9); "
    "shoebox: that room calibrated to the named T20, jittered positions (8 per RT60), for training; "
    "synthetic: exponential-decay noise, any RT60 range; measured: --rir-dir responses")


@register_family("reverb", example="reverb:rt60=0.3",
                 keys={"rt60": NumberKey("s", 0.01, 5.0, optional=True),
                       "model": WordKey(REVERB_MODELS, default="auto", meaning=REVERB_MODEL_MEANING),
                       "drr": NumberKey("dB", -40.0, 40.0, default="-10")},
                 positional="rt60")
def build(values, sample_rate, name, banks):
    model = values["model"][0]
    rt60 = values["rt60"]
    if model == "measured":
        bank = banks.measured_bank(sample_rate)
        return AddRoomReverb(bank, bank.entries(), sample_rate, name)
    if rt60 is None:
        raise ValueError(f"condition {name!r}: missing rt60 (s), e.g. 'reverb:rt60=0.3'; only model=measured "
                         "goes without")
    if model == "synthetic" or (model == "auto" and isinstance(rt60, Uniform)):
        return AddReverb(rt60, values["drr"], sample_rate, name)
    if isinstance(rt60, Uniform):
        raise ValueError(f"condition {name!r}: model={model} simulates discrete rooms: give RT60 values "
                         "'0.3|0.6|0.9', not a range (or model=synthetic for a continuous range)")
    bank = banks.shoebox_bank(rt60.options, sample_rate) if model == "shoebox" else banks.study_bank(
        rt60.options, sample_rate)
    return AddRoomReverb(bank, bank.entries(rt60.options), sample_rate, name)
