"""train_step: no host read of device values and no blocking host-to-device copy (on the meta device),
skipped non-finite steps, options."""
import pytest
import torch
import torch.optim.optimizer as optimizer_module

from detector.cli.commands.train import run as run_train_command
from detector.cli.main import build_parser
from detector.config import Config, DataConfig, FeatureConfig, TrainConfig
from detector.data import load_corpus
from detector.engine.train import (
    EpochPosition,
    StopRequests,
    TrainState,
    _Run,
    _StepCounters,
    _train_one_epoch,
    _wrap,
    make_optimizer,
    train,
    train_step,
)
from detector.launder import LaunderChain
from detector.launder.banks import corpus_banks
from detector.models.detector import Detector
from detector.utils.distributed import Distributed
from detector.utils.runtime import Precision, upload
from tests.conftest import prepared_folder_corpus
from tests.engine.host_copies import HostCopyGuard

DEFAULT_CHAIN = TrainConfig().launder
OFF = Precision(None, "meta")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A tiny prepared corpus: ``(manifest, waveform cache, its DataConfig)``."""
    root = tmp_path_factory.mktemp("corpus")
    prepared_folder_corpus(root, "50/25/25", "m.csv", n_per_class=8)
    data = DataConfig(manifest=str(root / "m.csv"), cache_dir=str(root / "cache"))
    return (*load_corpus(data), data)


@pytest.fixture(scope="module")
def banks(corpus):
    """Laundering banks of the tiny corpus (the default chain's babble noise is built from its bona fide clips)."""
    manifest, cache, data = corpus
    return corpus_banks(manifest, cache, "", "", data.cache_dir)


@pytest.fixture
def meta(monkeypatch):
    """Let the step's code run on ``meta`` tensors, which refuse every read of their values.

    The fused AdamW kernel has a meta implementation (torch.compile traces through it), but
    the optimizer's list of devices for it stops at the device's name and omits meta.
    """
    supported = optimizer_module._get_fused_kernels_supported_devices
    monkeypatch.setattr(optimizer_module, "_get_fused_kernels_supported_devices", lambda: [*supported(), "meta"])
    return torch.device("meta")


def _meta_step(banks, spec, optimizer_class=None, features=None, launder=None):
    """One training step as the loop runs it (step, then the device counters), all on meta, under a
    :class:`HostCopyGuard`; returns ``(loss, finite, blocking host-to-device copies)``."""
    model = Detector(16000, features).to("meta")
    optimizer = make_optimizer(model, TrainConfig())
    if optimizer_class is not None:
        optimizer.__class__ = optimizer_class
    launder = launder or LaunderChain.from_spec(spec, 16000, banks=banks).to("meta")
    wave = torch.empty(4, 1, 8000, device="meta")
    target = torch.empty(4, dtype=torch.int64, device="meta")
    with HostCopyGuard() as guard:
        loss, finite = train_step(model, wave, target, launder, torch.Generator().manual_seed(0), optimizer,
                                  torch.amp.GradScaler("cpu", enabled=False), OFF, augments=model.augments)
        _StepCounters(EpochPosition(), torch.device("meta")).add(loss, finite)
    return loss, finite, guard.copies


# The default chain, and each of its conditions alone (so a failure names the condition).
_CONDITIONS = [segment.strip() for segment in DEFAULT_CHAIN.split(";") if not segment.strip().startswith("p=")]


@pytest.mark.parametrize("spec", ["off", *[pytest.param(f"p=1; {condition}", id=condition.split(":")[0])
                                           for condition in _CONDITIONS],
                                  pytest.param(DEFAULT_CHAIN, id="default chain")])
def test_the_whole_step_runs_on_meta_tensors_so_it_never_reads_the_device(banks, meta, spec):
    loss, finite, copies = _meta_step(banks, spec)
    assert loss.device == finite.device == meta and loss.shape == finite.shape == ()
    assert copies == [], "blocking host-to-device copies in the step"


@pytest.mark.parametrize("frontend", ["cqt", "logmel", "seed-image", "lfcc"])
def test_every_frontend_steps_on_meta_without_blocking_copies(banks, meta, frontend):
    """With image augmentation (seed-image) and masking (all), which draw on the host and upload."""
    augment = {"augment_flip": 0.5, "augment_rotate_deg": 10.0} if frontend == "seed-image" else {}
    augment["augment_mask"] = 0.6
    loss, finite, copies = _meta_step(banks, "p=1; noise:white:snr=0..20",
                                      features=FeatureConfig(frontend=frontend, **augment))
    assert loss.device == finite.device == meta
    assert copies == []


class _CopiesTo(torch.nn.Module):
    """A laundering step that moves host data to the device in one of three ways."""

    def __init__(self, how: str):
        super().__init__()
        self.how = how

    def forward(self, wave, generator):
        gain = torch.rand(wave.shape[0], 1, 1, generator=generator)
        if self.how == "torch.tensor":
            gain = torch.tensor([[[0.5]]], device=wave.device)
        elif self.how == "to":
            gain = gain.to(wave.device)
        else:
            gain = upload(gain, wave.device)
        return wave * gain


@pytest.mark.parametrize("how, caught", [("torch.tensor", True), ("to", True), ("upload", False)])
def test_a_blocking_host_to_device_copy_in_the_step_is_caught(banks, meta, how, caught):
    """What the meta device alone lets through: ``torch.tensor(..., device=d)`` and ``cpu.to(d)``
    in the step; the documented per-step upload (``upload``) is the one allowed way."""
    _, _, copies = _meta_step(banks, "off", launder=_CopiesTo(how))
    assert bool(copies) == caught, copies
    if caught:
        assert "tests/engine/test_train_step.py" in copies[0]


@pytest.mark.parametrize("on_device", [False, True], ids=["DataLoader batches", "--cache-on-device"])
def test_the_epoch_loop_body_makes_no_blocking_copy(corpus, banks, meta, monkeypatch, tmp_path, on_device):
    """``_train_one_epoch`` on meta, its host reads of the counters (the documented reads a few
    times a second) stubbed: batches, seeds, laundering, step, counters and scheduler together."""
    from detector.data import CropDataset, DeviceCropLoader, upload_samples
    from detector.utils.distributed import Distributed

    reads = []
    monkeypatch.setattr(_StepCounters, "read", lambda self, position: reads.append(position.step) or 0)
    config = Config(train=TrainConfig(save_every_minutes=0))
    model = Detector(16000).to("meta")
    optimizer = make_optimizer(model, config.train)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
    launder = LaunderChain.from_spec(DEFAULT_CHAIN, 16000, banks=banks).to("meta")
    run = _Run(config, model, launder, optimizer, scheduler, torch.amp.GradScaler("cpu", enabled=False), OFF,
               torch.device("meta"), Distributed(), StopRequests(tmp_path / "last.pt"), TrainState(), data=None,
               network=model)
    if on_device:
        manifest, cache, _ = corpus
        train_set = CropDataset(cache, manifest, manifest.split("train"), 8000, random_crop=True)
        loader = DeviceCropLoader(train_set, 2, upload_samples(cache, torch.device("meta")), 0)
    else:
        loader = [(torch.zeros(2, 1, 8000, dtype=torch.int16), torch.tensor([0, 1])) for _ in range(4)]
    with HostCopyGuard() as guard:
        _train_one_epoch(run, loader, 2, EpochPosition(), "meta epoch")
    assert reads, "the loop reached its read points"
    assert guard.copies == []


class _ReadsTheFlag(torch.optim.AdamW):
    """The old design: the host decides whether to step by reading the finite flag."""

    def step(self, closure=None):
        if bool(self.found_inf):
            return None
        return super().step(closure)


def test_a_host_read_in_the_step_fails_on_meta(banks, meta):
    with pytest.raises(RuntimeError, match="cannot be called on meta tensors"):
        _meta_step(banks, "off", optimizer_class=_ReadsTheFlag)


def _cpu_step(model, optimizer, scaler, poison=False):
    wave = torch.randn(2, 1, 3200, generator=torch.Generator().manual_seed(1))

    def launder(batch, generator):
        return batch * float("nan") if poison else batch

    return train_step(model, wave, torch.tensor([0, 1]), launder, torch.Generator(), optimizer, scaler,
                      Precision(None, "cpu"))


def _snapshot(model, optimizer):
    state = [t.clone() for s in optimizer.state.values() for t in s.values()]
    return [p.detach().clone() for p in model.parameters()], state


def _same(a, b):
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("scaled", [False, True], ids=["found_inf from the loss", "GradScaler"])
def test_a_nonfinite_step_leaves_weights_moments_and_step_count_untouched(scaled):
    torch.manual_seed(0)
    model = Detector()
    optimizer = make_optimizer(model, TrainConfig())
    scaler = torch.amp.GradScaler("cpu", enabled=scaled, init_scale=1024.0)
    _cpu_step(model, optimizer, scaler)
    weights, moments = _snapshot(model, optimizer)
    loss, finite = _cpu_step(model, optimizer, scaler, poison=True)
    assert finite.item() == 0.0 and not torch.isfinite(loss)
    after_weights, after_moments = _snapshot(model, optimizer)
    assert _same(weights, after_weights) and _same(moments, after_moments)
    if scaled:
        assert scaler.get_scale() == 512.0, "the scaler saw the NaN gradients and halved its scale"
    loss, finite = _cpu_step(model, optimizer, scaler)
    assert finite.item() == 1.0
    assert all(s["step"].item() == 2 for s in optimizer.state.values())
    assert not _same(weights, [p.detach() for p in model.parameters()])
    conv = model.backbone.conv1.weight
    assert conv.is_contiguous(memory_format=torch.channels_last), "channels_last survives the update"


def test_a_step_the_grad_scaler_skips_for_overflowing_gradients_is_reported_skipped():
    """A finite loss whose scaled gradients overflow (float16's failure): GradScaler skips the update;
    the step says so, the counters count it, and its loss stays out of the epoch's sum."""
    torch.manual_seed(0)
    model = Detector()
    optimizer = make_optimizer(model, TrainConfig())
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    loss, finite = _cpu_step(model, optimizer, scaler)
    assert finite.item() == 1.0 and torch.isfinite(loss)
    weights, moments = _snapshot(model, optimizer)
    overflow = model.backbone.conv1.weight.register_hook(lambda grad: grad * float("inf"))   # as float16 does
    loss, finite = _cpu_step(model, optimizer, scaler)
    overflow.remove()
    assert torch.isfinite(loss), "the loss itself is finite: only the gradients overflowed"
    assert finite.item() == 0.0, "GradScaler skipped the update, so the step is reported skipped"
    assert _same(weights, [p.detach() for p in model.parameters()]) and _same(moments, _snapshot(model, optimizer)[1])
    assert scaler.get_scale() == 512.0, "the scaler saw the overflow and halved its scale"
    counters, position = _StepCounters(EpochPosition(), torch.device("cpu")), EpochPosition()
    counters.add(torch.tensor(0.5), torch.tensor(1.0))
    counters.add(loss, finite)
    counters.read(position)
    assert (position.loss_sum, position.nonfinite_steps) == (0.5, 1)


def test_train_step_refuses_an_optimizer_that_cannot_skip_on_the_device():
    model = Detector()
    with pytest.raises(TypeError, match="fused=True"):
        _cpu_step(model, torch.optim.AdamW(model.parameters()), torch.amp.GradScaler("cpu", enabled=False))


def test_step_counters_count_skips_and_the_longest_streak():
    counters, position = _StepCounters(EpochPosition(loss_sum=1.0, nonfinite_steps=1, nonfinite_streak=1),
                                       torch.device("cpu")), EpochPosition()
    for loss in (float("nan"), float("inf"), 2.0, float("nan"), 3.0):
        loss = torch.tensor(loss)
        counters.add(loss, torch.isfinite(loss).float())
    assert counters.read(position) == 3   # the saved streak of 1 continued by two
    assert (position.loss_sum, position.nonfinite_steps, position.nonfinite_streak) == (6.0, 4, 0)


def test_auto_precision_is_bf16_on_the_cpu_and_fp16_only_when_asked():
    assert Precision.resolve("auto", torch.device("cpu")).name == "bf16"
    assert not Precision.resolve("auto", torch.device("cpu")).needs_scaler
    with pytest.raises(ValueError, match="fp16 is for CUDA"):
        Precision.resolve("fp16", torch.device("cpu"))


def test_compile_and_save_every_minutes_flags_reach_the_config(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr("detector.engine.train.train", lambda config, out, resume, **_: seen.append(config) or _Done())
    args = build_parser().parse_args(["train", "--out", str(tmp_path), "--compile", "--save-every-minutes", "2.5"])
    run_train_command(args)
    assert (seen[0].train.compile, seen[0].train.save_every_minutes) == (True, 2.5)
    assert (Config().train.compile, Config().train.save_every_minutes) == (False, 10.0)
    assert isinstance(_wrap(Detector(), Distributed(), torch.device("cpu"), compile_model=True),
                      torch._dynamo.eval_frame.OptimizedModule)
    config = Config()
    config.train.device, config.train.save_every_minutes = "cpu", -1.0
    with pytest.raises(ValueError, match="--save-every-minutes -1.0: must be >= 0"):
        train(config, tmp_path / "run")


class _Done:
    best_eer, best_loss, best_epoch = 0.0, 0.0, 1
