"""TensorBoard: training writes RUN/tensorboard (steps, epochs, front-end pictures, config), a resume
continues its steps, --no-tensorboard writes nothing, evaluate and ablate add their plots, and a
failing writer is one warning, never an error."""
import logging
import math

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from detector.cli.main import main
from detector.engine.tensorboard import PICTURE_CONDITIONS, TrainBoard
from tests.conftest import prepared_folder_corpus

STEPS = 2   # per epoch
STEP_TAGS = {"train/loss", "train/lr", "train/clips_per_s", "train/skipped_steps"}
EPOCH_TAGS = {"epoch/train_loss", "epoch/val_loss", "epoch/val_eer", "epoch/val_min_dcf"}


def _events(folder) -> EventAccumulator:
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    return events


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A run trained 2 epochs then resumed for a 3rd, and one trained with --no-tensorboard."""
    root = tmp_path_factory.mktemp("tensorboard")
    manifest = prepared_folder_corpus(root, "60/20/20", n_per_class=10)
    command = ["train", "--manifest", str(manifest), "--cache-dir", str(root / "cache"), "--frontend", "logmel",
               "--launder", "off", "--crop-s", "0.5", "--batch-size", "4", "--max-steps-per-epoch", str(STEPS),
               "--device", "cpu", "--amp", "off", "--num-workers", "0"]
    run = root / "run"
    assert main([*command, "--out", str(run), "--epochs", "2"]) == 0
    first = _events(run / "tensorboard")
    assert main([*command, "--out", str(run), "--epochs", "3", "--resume"]) == 0
    assert main([*command, "--out", str(root / "quiet"), "--epochs", "1", "--max-steps-per-epoch", "1",
                 "--no-tensorboard"]) == 0
    return manifest, root, run, first


def test_training_logs_steps_epochs_pictures_and_config(runs):
    _, _, run, events = runs
    tags = events.Tags()
    assert STEP_TAGS | EPOCH_TAGS <= set(tags["scalars"])
    for tag in EPOCH_TAGS:
        assert [event.step for event in events.Scalars(tag)] == [STEPS, 2 * STEPS]   # global step at each epoch end
    steps = [event.step for event in events.Scalars("train/loss")]
    assert steps == sorted(steps) and steps[-1] == 2 * STEPS and set(steps) <= set(range(1, 2 * STEPS + 1))
    for event in events.Scalars("train/lr"):   # the cosine schedule over 2 epochs after event.step steps
        assert event.value == pytest.approx(1e-3 * (1 + math.cos(math.pi * event.step / (2 * STEPS))) / 2, abs=1e-9)
    assert events.Scalars("train/clips_per_s")[0].value > 0
    assert events.Scalars("train/skipped_steps")[-1].value == 0
    eer = events.Scalars("epoch/val_eer")[-1].value
    assert 0 <= eer <= 1
    # 4 validation clips (the split has 4), each clean and under the 3 conditions, once an epoch.
    pictures = [tag for tag in tags["images"] if tag.startswith("frontend/")]
    assert len(pictures) == 4 * (1 + len(PICTURE_CONDITIONS))
    assert len({tag.split("/")[1] for tag in pictures}) == 4
    assert {tag.split("/")[2] for tag in pictures} == {"clean", "noise_white_snr=10", "reverb_rt60=0.6",
                                                       "resample_8000"}
    picture = events.Images(pictures[0])
    assert [image.step for image in picture] == [STEPS, 2 * STEPS] and picture[0].width > 10
    config = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "[train]" in config and "crop_s = 0.5" in config and "tensorboard = true" in config


def test_a_resumed_run_appends_a_file_and_continues_the_steps(runs):
    _, _, run, _ = runs
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 2
    events = _events(run / "tensorboard")
    assert [event.step for event in events.Scalars("epoch/val_eer")] == [STEPS, 2 * STEPS, 3 * STEPS]
    steps = [event.step for event in events.Scalars("train/loss")]
    assert steps == sorted(steps) and steps[-1] == 3 * STEPS and 2 * STEPS in steps   # both runs' read points
    assert [event.step for event in events.Tensors("config/text_summary")] == [0, 2 * STEPS]


def test_no_tensorboard_writes_no_events(runs):
    _, root, _, _ = runs
    assert (root / "quiet" / "best.pt").exists()
    assert not (root / "quiet" / "tensorboard").exists()


def test_evaluate_and_ablate_add_their_plots(runs):
    manifest, root, run, _ = runs
    board = root / "board"
    common = ["--checkpoint", str(run / "best.pt"), "--manifest", str(manifest), "--cache-dir", str(root / "cache"),
              "--device", "cpu", "--conditions", "clean", "--tensorboard", str(board)]
    assert main(["evaluate", *common, "--out", str(root / "evaluation")]) == 0
    assert main(["ablate", *common, "--out", str(root / "ablation")]) == 0
    images = _events(board).Tags()["images"]
    assert set(images) == {"evaluate/det_roc", "evaluate/confusion_matrix", "ablate/eer_heatmap"}
    assert _events(board).Images("evaluate/det_roc")[0].width > 100


def test_a_failing_writer_is_one_warning_and_the_run_goes_on(tmp_path, caplog):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    board = TrainBoard(blocker / "tensorboard")   # cannot be created
    with caplog.at_level(logging.WARNING):
        board.step(1, 0.5, 1e-3, 100.0, 0)
        board.step(2, 0.4, 1e-3, 100.0, 0)
        board.close()
    warnings = [record for record in caplog.records if "TensorBoard" in record.getMessage()]
    assert len(warnings) == 1 and "no more TensorBoard events" in warnings[0].getMessage()
    assert not board.enabled
