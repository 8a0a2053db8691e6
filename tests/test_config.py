"""Configuration: TOML file <- CLI flags, validation, round trip of the saved config."""
import pytest

from detector.cli.commands.common import resolve_config
from detector.cli.main import build_parser
from detector.config import Config


def test_toml_then_flags_override(tmp_path):
    (tmp_path / "c.toml").write_text('[train]\nepochs = 3\nlr = 0.01\n[features]\nbackend = "nnaudio"\n')
    args = build_parser().parse_args(["train", "--out", "r", "--config", str(tmp_path / "c.toml"),
                                      "--epochs", "7", "--manifest", "m.csv"])
    config = resolve_config(args)
    assert (config.train.epochs, config.train.lr, config.features.backend) == (7, 0.01, "nnaudio")
    assert config.data.manifest == "m.csv" and config.train.batch_size == 32


def test_saved_config_round_trips(tmp_path):
    config = Config()
    config.train.launder = 'p=0.5; noise:white:snr=0..20'
    config.model.channels_last = False
    (tmp_path / "saved.toml").write_text(config.to_toml())
    assert Config.from_toml(tmp_path / "saved.toml") == config


@pytest.mark.parametrize("text, message", [
    ("[trian]\nepochs = 1\n", r"unknown section \[trian\]"),
    ("[train]\nepoch = 1\n", "unknown key 'epoch'"),
    ('[train]\nepochs = "many"\n', "epochs must be int"),
    ("[train\n", "not valid TOML"),
    ('[train]\namp = "fast"\n', "amp must be one of auto, bf16, fp16, off; got 'fast'"),   # the flag's choices too
])
def test_bad_config_files_are_explained(tmp_path, text, message):
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(ValueError, match=message):
        Config.from_toml(tmp_path / "bad.toml")
