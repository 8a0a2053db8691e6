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


def _train_config(*flags: str) -> Config:
    return resolve_config(build_parser().parse_args(["train", "--out", "r", *flags]))


def test_the_seed_recipe_resolves_to_its_documented_values():
    expected = Config()
    expected.data.auto_split = "70/15/15"
    expected.features.frontend, expected.features.augment_flip, expected.features.augment_rotate_deg = \
        "seed-image", 0.5, 10.0
    expected.model.pretrained, expected.model.dropout, expected.model.freeze_epochs = "imagenet", 0.3, 3
    train = expected.train
    train.lr, train.weight_decay, train.batch_size, train.epochs = 1e-3, 1e-4, 32, 15
    train.patience, train.stop_on = 5, "val_loss"
    assert _train_config("--recipe", "seed") == expected
    assert Config.from_recipe("seed") == expected


def test_flags_override_the_config_file_which_overrides_the_recipe(tmp_path):
    (tmp_path / "c.toml").write_text('[train]\nepochs = 3\nlr = 0.01\n[model]\npretrained = "resnet18.pth"\n')
    config = _train_config("--recipe", "seed", "--config", str(tmp_path / "c.toml"), "--lr", "0.002",
                           "--stop-on", "val_eer", "--augment-rotate-deg", "0")
    assert (config.train.lr, config.train.stop_on, config.features.augment_rotate_deg) == (0.002, "val_eer", 0.0)
    assert (config.train.epochs, config.model.pretrained) == (3, "resnet18.pth")                  # the file
    assert (config.train.batch_size, config.model.freeze_epochs, config.features.frontend) == (32, 3, "seed-image")
    assert _train_config("--recipe", "seed", "--pretrained", "").model.pretrained == ""   # no download
    assert _train_config().train.stop_on == "val_eer" and _train_config().model.pretrained == ""
