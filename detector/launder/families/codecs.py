"""``mp3``, ``vorbis``, ``opus``: real codec round trips through libsndfile, on the host (see :mod:`..codec`)."""
from ..codec import HostCodec
from ..registry import NumberKey, register_family, single_value

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
