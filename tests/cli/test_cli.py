"""The ``detector`` command: flags generated from the configuration, --conditions, help, errors, logging."""
import dataclasses
import subprocess
import sys

import pytest

from detector.cli import main as cli_main
from detector.cli.commands import common
from detector.cli.main import build_parser, main
from detector.config import Config
from detector.utils.errors import UserError


def _config_fields():
    config = Config()
    for section in dataclasses.fields(config):
        for field in dataclasses.fields(getattr(config, section.name)):
            yield section.name, field


def _other_value(field, default):
    """A valid value different from ``default``, and its text on the command line."""
    if field.metadata["choices"]:
        value = next(choice for choice in field.metadata["choices"] if choice != default)
        return value, [value]
    if isinstance(default, bool):
        return not default, []
    if isinstance(default, (int, float)):
        return default + 3, [str(default + 3)]
    if field.metadata["repeatable"]:
        return "white=a,babble=b", ["white=a", "babble=b"]
    return "x", ["x"]


@pytest.mark.parametrize("section, field", list(_config_fields()), ids=lambda item: getattr(item, "name", item))
def test_every_config_field_has_help_and_a_train_flag_that_sets_it(section, field):
    default = getattr(getattr(Config(), section), field.name)
    value, texts = _other_value(field, default)
    flag = common._flag(field)
    if isinstance(default, bool):
        argv = [flag if value else "--no-" + flag[2:]]
    elif field.metadata["repeatable"]:
        argv = [part for text in texts for part in (flag, text)]
    else:
        argv = [flag, *texts]
    assert field.metadata["help"]
    config = common.resolve_config(build_parser().parse_args(["train", "--out", "r", *argv]))
    assert getattr(getattr(config, section), field.name) == value
    untouched = common.resolve_config(build_parser().parse_args(["train", "--out", "r"]))
    assert getattr(getattr(untouched, section), field.name) == default


def test_help_shows_every_default_and_explains_the_basic_flags(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())   # unwrapped
    for flag, help_text in [("--epochs", "training epochs at most (default: 20)"),
                            ("--lr", "learning rate (cosine schedule) (default: 0.001)"),
                            ("--seed", "(default: 42)"), ("--no-compile", "(default: off)")]:
        assert flag in text and help_text in text
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "training epochs at most (default: 30)" in " ".join(capsys.readouterr().out.split())  # the demo's own
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "checkpoint to evaluate" in text and "(default: clean)" in text and "--condition " not in text


@pytest.mark.parametrize("command", ["evaluate", "ablate", "launder", "render"])
def test_conditions_are_repeatable_and_comma_separated_in_every_command(command):
    required = {"evaluate": ["--checkpoint", "c", "--out", "o"], "ablate": ["--checkpoint", "c", "--out", "o"],
                "launder": ["--out", "o"], "render": ["--out", "o"]}[command]
    args = build_parser().parse_args([command, *required, "--manifest", "m",
                                      "--conditions", "clean,noise:white|pink:snr=0..10", "lowpass:7000",
                                      "--conditions", "reverb:rt60=0.6,study"])
    conditions = common.conditions_of(args)
    assert conditions[:4] == ["clean", "noise:white|pink:snr=0..10", "lowpass:7000", "reverb:rt60=0.6"]
    assert len(conditions) == 4 + 29 - 2   # the study's 29, less the two already named


def test_conditions_defaults_and_the_deprecated_evaluate_alias(capsys):
    evaluate = ["evaluate", "--checkpoint", "c", "--out", "o", "--manifest", "m"]
    ablate = ["ablate", "--checkpoint", "c", "--out", "o", "--manifest", "m"]
    assert common.conditions_of(build_parser().parse_args(evaluate)) == ["clean"]
    assert len(common.conditions_of(build_parser().parse_args(ablate))) == 30
    cli_main.configure_logging()
    args = build_parser().parse_args([*evaluate, "--condition", "clean,gain:-6", "--conditions", "mulaw"])
    assert common.conditions_of(args) == ["clean", "gain:-6", "mulaw"]
    assert "--condition is deprecated; use --conditions" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["launder", "--out", "o", "--manifest", "m"])   # required where no default
    assert "--conditions" in capsys.readouterr().err


def test_version():
    from importlib.metadata import version

    run = subprocess.run([sys.executable, "-m", "detector", "--version"], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == f"detector {version('detector')}"


@pytest.mark.parametrize("argv", [["--help"], ["conditions"], ["train", "--help"], ["render", "--help"]])
def test_help_and_conditions_import_no_torch(argv):
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "detector", *argv],
                         capture_output=True, text=True, check=True)
    imported = [line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time")]
    assert "detector.cli.main" in imported
    assert not [name for name in imported if name.split(".")[0] in ("torch", "torchvision", "torchaudio")]
    if argv == ["conditions"]:
        assert "A condition is family[:arg][:key=value]" in run.stdout and "mp3:320k" in run.stdout
        assert "telephone" in run.stdout and "300-3400 Hz band-pass" in run.stdout


def test_a_user_error_is_one_line_with_status_2(monkeypatch, capsys):
    from detector.cli.commands import conditions

    def needs_a_gpu(args):
        raise UserError("--device cuda: no GPU")

    monkeypatch.setattr(conditions, "run", needs_a_gpu)
    assert main(["conditions"]) == 2
    assert capsys.readouterr().err == "detector conditions: error: --device cuda: no GPU\n"


def test_an_internal_error_keeps_its_traceback():
    program = ("import sys; from detector.cli.commands import conditions\n"
               "def broken(args): raise RuntimeError('an internal bug')\n"
               "conditions.run = broken\n"
               "from detector.cli.main import main; sys.exit(main(['conditions']))\n")
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert run.returncode == 1
    assert "Traceback (most recent call last)" in run.stderr and "RuntimeError: an internal bug" in run.stderr
    assert "error: an internal bug" not in run.stderr


def test_missing_cuda_is_a_user_error():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    from detector.utils.runtime import resolve_device

    with pytest.raises(UserError, match="--device cuda: no CUDA device is available here"):
        resolve_device("cuda")


def test_library_progress_goes_to_stdout_and_warnings_to_stderr(capsys):
    import logging

    cli_main.configure_logging()
    cli_main.configure_logging()   # idempotent: one handler, each message once
    logging.getLogger("detector.engine.train").info("epoch 1: train loss 0.5")
    logging.getLogger("detector.data.cache").warning("cache damaged")
    logging.getLogger("detector.data.cache").debug("not shown")
    captured = capsys.readouterr()
    assert captured.out == "epoch 1: train loss 0.5\n" and captured.err == "cache damaged\n"


def test_the_aggregate_choices_are_the_loaders():
    from detector.data.loader import AGGREGATES

    assert common.AGGREGATES == AGGREGATES
