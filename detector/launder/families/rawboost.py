"""``rawboost``: RawBoost's algorithms (Tak et al., ICASSP 2022) and their combinations (see :mod:`..rawboost`).

Defaults are the authors' code's (``main.py``): 5 bands, centres 20..8000 Hz, widths 100..1000 Hz,
10..100 taps, linear gain 0 dB, non-linear terms 5..20 dB below it, N_f = 5, P = 10 %, g_sd = 2,
SNR 10..40 dB. Keys that the algorithm does not use are accepted and ignored.
"""
from ..rawboost import RawBoost
from ..registry import NumberKey, register_family


def _fixed(values, key, name):
    value = values[key]
    if len(value.options) != 1:
        raise ValueError(f"condition {name!r}: {key} takes one fixed value here, got {value.spec}")
    return value.options[0]


@register_family(
    "rawboost", example="rawboost:4",
    keys={"algo": NumberKey("(1 convolutive, 2 impulsive, 3 coloured noise; series: 4 = 1+2+3, 5 = 1+2, 6 = 1+3, "
                            "7 = 2+3; 8 = 1 and 2 in parallel)", 1, 8, integer=True, allow_range=False),
          "bands": NumberKey("notch bands per filter", 1, 20, integer=True, allow_range=False, default="5"),
          "fc": NumberKey("Hz band centre", 0.0, 96000.0, default="20..8000"),
          "bw": NumberKey("Hz band width", 1.0, 96000.0, default="100..1000"),
          "coeffs": NumberKey("taps per band, made odd", 1, 400, integer=True, default="10..100"),
          "gain": NumberKey("dB linear gain", -40.0, 40.0, default="0"),
          "bias": NumberKey("dB linear minus non-linear gain", 0.0, 60.0, default="5..20"),
          "nf": NumberKey("(powers of the signal filtered, N_f)", 1, 10, integer=True, allow_range=False,
                          default="5"),
          "p": NumberKey("% of samples at most", 0.0, 100.0, allow_range=False, default="10"),
          "gsd": NumberKey("(impulse gain g_sd)", 0.0, 100.0, default="2"),
          "snr": NumberKey("dB", -50.0, 100.0, default="10..40")},
    positional="algo")
def build(values, sample_rate, name, banks):
    return RawBoost(int(_fixed(values, "algo", name)), values["bands"], values["fc"], values["bw"], values["coeffs"],
                    values["gain"], values["bias"], int(_fixed(values, "nf", name)), _fixed(values, "p", name),
                    values["gsd"], values["snr"], sample_rate, name)
