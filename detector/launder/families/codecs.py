"""``mp3``, ``vorbis``, ``opus``: real codec round trips through libsndfile; ``codec``: every real codec by one
grammar, ``codec:NAME[:BITRATE][:rate=HZ]`` (AAC, AMR-NB, G.722, GSM 06.10, G.711, Opus, MP3; PyAV or
libsndfile). All run on the host (see :mod:`..codec`)."""
from ..codec import CODECS, MISSING_CODECS, HostCodec
from ..registry import NumberKey, WordKey, register_family, single_value

LEVEL = NumberKey("(libsndfile compression level, 0 = best)", 0.0, 1.0, allow_range=False)


def _codec(codec: str, key: str):
    def build(values, sample_rate, name, banks):
        return HostCodec(codec, single_value(values, key, name), sample_rate, name)
    return build


register_family("mp3", example="mp3:128k",
                keys={"bitrate": NumberKey("kbit/s", 8.0, 320.0, allow_range=False, suffix="k")},
                positional="bitrate")(_codec("mp3", "bitrate"))
register_family("vorbis", example="vorbis:0.5", keys={"level": LEVEL}, positional="level")(_codec("vorbis", "level"))
register_family("opus", example="opus:0.5", keys={"level": LEVEL}, positional="level")(_codec("opus", "level"))


@register_family(
    "codec", example="codec:aac:32k",
    keys={"codec": WordKey((*CODECS, *MISSING_CODECS),
                           meaning=f"{', '.join(MISSING_CODECS)}: missing, no encoder offline; asking says why"),
          "bitrate": NumberKey("kbit/s", 2.0, 320.0, allow_range=False, optional=True, suffix="k"),
          "rate": NumberKey("Hz (encoder rate, aac and opus)", 7350.0, 96000.0, integer=True, allow_range=False,
                            optional=True)},
    positional=("codec", "bitrate"))
def build(values, sample_rate, name, banks):
    words = values["codec"]
    if len(words) != 1:
        raise ValueError(f"condition {name!r}: codec takes one name here (a codec runs once per clip)")
    bitrate = None if values["bitrate"] is None else single_value(values, "bitrate", name)
    rate = None if values["rate"] is None else int(single_value(values, "rate", name))
    try:
        return HostCodec(f"codec:{words[0]}", bitrate, sample_rate, name, rate=rate)
    except ValueError as error:
        raise ValueError(f"condition {name!r}: {error}") from None
