"""Trainer: fit/evaluate/predict, checkpoints and resume, faults, and the testing knobs."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import Dataset, TensorDataset

import brainvit_effnet as bve
from brainvit_effnet.data import create_transforms, load_sample


class Blobs(Dataset):
    """A tiny, learnable 3-class problem (class = which third of the image is bright)."""

    classes = ("a", "b", "c")

    def __init__(self, n: int = 24, seed: int = 0, size: int = 64) -> None:
        g = torch.Generator().manual_seed(seed)
        self.targets = [i % 3 for i in range(n)]
        self.images = torch.rand(n, 3, size, size, generator=g) * 0.2
        for i, t in enumerate(self.targets):
            self.images[i, :, :, t * size // 3 : (t + 1) * size // 3] += 1.0

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], self.targets[i]


class Linear(nn.Module):
    """A plain classifier without BatchNorm or pretrained_cfg: exact arithmetic, any-model check."""

    def __init__(self, num_classes: int = 3, size: int = 64) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.fc = nn.Linear(3 * size * size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


def config(tmp_path: Path, **kwargs: Any) -> bve.TrainConfig:
    values: dict[str, Any] = {"epochs": 2, "batch_size": 8, "lr": 3e-3, "output_dir": str(tmp_path / "run")}
    values.update(kwargs)
    return bve.TrainConfig(**values)


def tiny() -> nn.Module:
    return bve.create_model("effnet_test_tf", num_classes=3, label_names=("a", "b", "c"))


def test_fit_writes_log_and_checkpoints_and_learns(tmp_path: Path) -> None:
    trainer = bve.Trainer(tiny(), config(tmp_path, epochs=3))
    result = trainer.fit(Blobs(24), Blobs(12, seed=1))
    run = tmp_path / "run"
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2, 3]
    assert {"train_loss", "val_loss", "val_accuracy", "val_macro_f1", "lr", "img_per_s", "seconds"} <= lines[
        0
    ].keys()
    assert lines[-1]["train_loss"] < lines[0]["train_loss"]
    for name in ("best", "last"):
        files = sorted(p.name for p in (run / "checkpoints" / name).iterdir())
        assert files == [
            "README.md",
            "config.json",
            "model.safetensors",
            "trainer_state.json",
            "trainer_state.safetensors",
        ]
    assert result["best_epoch"] in (1, 2, 3) and result["monitor"] == "val_macro_f1"
    reloaded = bve.from_pretrained(run / "checkpoints" / "last").eval()
    x = Blobs(4, seed=2).images
    # the trained model is channels-last (the default), the reloaded one contiguous: other kernels,
    # same function up to float rounding
    torch.testing.assert_close(reloaded(x), trainer.model.eval()(x), rtol=1e-5, atol=1e-5)
    assert json.loads((run / "train_config.json").read_text())["epochs"] == 3


def test_evaluate_and_predict(tmp_path: Path) -> None:
    trainer = bve.Trainer(tiny(), config(tmp_path))
    probs, labels = trainer.predict(Blobs(10))
    assert probs.shape == (10, 3) and labels.tolist() == Blobs(10).targets
    assert abs(probs.sum(1) - 1).max() < 1e-5
    logits, _ = trainer.predict(Blobs(10), return_logits=True)
    assert abs(logits.sum(1) - 1).max() > 1e-3  # raw scores, not probabilities
    assert np.allclose(torch.from_numpy(logits).softmax(-1).numpy(), probs, atol=1e-6)
    report = trainer.evaluate(Blobs(10))
    assert {"accuracy", "macro_f1", "confusion_matrix", "ece", "loss"} <= report.keys()
    assert report["class_names"] == ["a", "b", "c"]


def test_resume_reproduces_the_uninterrupted_run(tmp_path: Path) -> None:
    torch.manual_seed(0)
    straight = bve.Trainer(Linear(), config(tmp_path / "a", epochs=3, scheduler="cosine"))
    straight.fit(Blobs(24), Blobs(6, seed=1))
    torch.manual_seed(0)
    first = bve.Trainer(Linear(), config(tmp_path / "b", epochs=3, scheduler="cosine", max_steps=3))
    first.fit(Blobs(24), Blobs(6, seed=1))  # 3 steps = exactly one epoch of 24 / 8
    second = bve.Trainer(Linear(), config(tmp_path / "b", epochs=3, scheduler="cosine"))
    second.fit(Blobs(24), Blobs(6, seed=1), resume=tmp_path / "b" / "run" / "checkpoints" / "last")
    assert second.progress.epoch == 3 and second.progress.step == straight.progress.step == 9
    assert torch.allclose(second.model.fc.weight, straight.model.fc.weight, atol=1e-6)
    assert [h["epoch"] for h in second.progress.history] == [1, 2, 3]


def test_output_dir_holding_a_run_is_never_overwritten_silently(tmp_path: Path) -> None:
    bve.Trainer(Linear(), config(tmp_path, epochs=1)).fit(Blobs(8))
    log = (tmp_path / "run" / "log.jsonl").read_text()
    with pytest.raises(FileExistsError, match="already holds a training run"):
        bve.Trainer(Linear(), config(tmp_path, epochs=1)).fit(Blobs(8))
    assert (tmp_path / "run" / "log.jsonl").read_text() == log
    bve.Trainer(Linear(), config(tmp_path, epochs=1, overwrite=True)).fit(Blobs(8))


class NanAfter(nn.Module):
    def __init__(self, steps: int) -> None:
        super().__init__()
        self.calls, self.steps = 0, steps

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        loss = nn.functional.cross_entropy(logits, target)
        return loss * float("nan") if self.calls > self.steps else loss


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_checkpoint(tmp_path: Path) -> None:
    trainer = bve.Trainer(Linear(), config(tmp_path, epochs=3), loss_fn=NanAfter(steps=4))
    with pytest.raises(
        bve.TrainingDivergedError, match=r"loss is nan at epoch 2, batch 2 \(optimiser step 5\)"
    ):
        trainer.fit(Blobs(24))
    last = tmp_path / "run" / "checkpoints" / "last"
    state = json.loads((last / "trainer_state.json").read_text())
    assert state["progress"]["epoch"] == 1
    assert torch.isfinite(load_file(str(last / "model.safetensors"))["fc.weight"]).all()


def test_the_epoch_log_is_strict_json_lines(tmp_path: Path) -> None:
    trainer = bve.Trainer(Linear(), config(tmp_path, epochs=1))
    trainer.fit(Blobs(24))
    trainer._log({"epoch": 2, "val_loss": float("nan"), "img_per_s": float("inf")})  # an undefined metric
    lines = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    rows = [json.loads(line, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}")) for line in lines]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[1]["val_loss"] is None and rows[1]["img_per_s"] is None


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signals_save_a_resumable_checkpoint(tmp_path: Path, signum: int) -> None:
    class Interrupt(nn.Module):
        calls = 0

        def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            Interrupt.calls += 1
            if Interrupt.calls == 2:
                os.kill(os.getpid(), signum)
            return nn.functional.cross_entropy(logits, target)

    # the handlers the process had (a shell's background job starts with SIGINT ignored)
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    trainer = bve.Trainer(Linear(), config(tmp_path, epochs=2), loss_fn=Interrupt())
    result = trainer.fit(Blobs(24))
    assert result["interrupted"] and trainer.progress.step == 2
    resumed = bve.Trainer(Linear(), config(tmp_path, epochs=2))
    resumed.fit(Blobs(24), resume=tmp_path / "run" / "checkpoints" / "last")
    assert resumed.progress.epoch == 2
    assert {s: signal.getsignal(s) for s in before} == before  # restored after both runs


class SignalAtStep(bve.Callback):
    """Sends the process a signal after optimiser step ``step`` (fault injection)."""

    def __init__(self, step: int, signum: int = signal.SIGTERM) -> None:
        self.step, self.signum = step, signum

    def on_step_end(self, trainer: bve.Trainer, logs: dict[str, Any]) -> None:
        if logs["step"] == self.step:
            os.kill(os.getpid(), self.signum)


# A random step each run (1..8 of 9), plus the last step of an epoch (the epoch boundary).
@pytest.mark.parametrize("stop_at", [int(np.random.default_rng().integers(1, 9)), 3, 6])
def test_sigterm_at_any_step_then_resume_gives_the_uninterrupted_weights(
    tmp_path: Path, stop_at: int
) -> None:
    def run(folder: str, **kwargs: Any) -> bve.Trainer:
        torch.manual_seed(0)  # the same initial weights
        model = bve.create_model("effnet_test_tf", num_classes=3, drop_rate=0.3)  # dropout draws RNG
        return bve.Trainer(model, config(tmp_path / folder, epochs=3, scheduler="cosine"), **kwargs)

    straight = run("straight")
    straight.fit(Blobs(24), Blobs(6, seed=1))
    stopped = run("stopped", callbacks=[SignalAtStep(stop_at)])
    assert stopped.fit(Blobs(24), Blobs(6, seed=1))["interrupted"]
    assert stopped.progress.step == stop_at
    resumed = run("stopped")
    resumed.fit(Blobs(24), Blobs(6, seed=1), resume=tmp_path / "stopped" / "run" / "checkpoints" / "last")
    assert resumed.progress.step == straight.progress.step == 9, f"stopped at step {stop_at}"
    for (name, a), b in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.allclose(a.float(), b.float(), atol=1e-5), (
            f"{name} differs after a stop at step {stop_at}"
        )
    losses = [h["train_loss"] for h in resumed.progress.history]
    assert losses == pytest.approx([h["train_loss"] for h in straight.progress.history], abs=1e-5)


class AugmentedBlobs(Blobs):
    """Blobs with random augmentation from all three generators a transform may use."""

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        import random

        image, label = super().__getitem__(i)
        noise = torch.rand(image.shape) * 0.1 + float(np.random.rand()) * 0.05 + random.random() * 0.05
        return (image.flip(-1) if torch.rand(()) < 0.5 else image) + noise, label


# A random step each run, with augmentation in the main process and in worker processes.
@pytest.mark.parametrize("workers", [0, 2])
def test_a_signal_at_a_random_step_then_resume_is_bit_identical_with_augmentation(
    tmp_path: Path, workers: int
) -> None:
    stop_at = int(np.random.default_rng().integers(1, 9))

    def run(folder: str, **kwargs: Any) -> bve.Trainer:
        torch.manual_seed(0)
        cfg = config(tmp_path / folder, epochs=3, scheduler="cosine", num_workers=workers)
        return bve.Trainer(Linear(), cfg, **kwargs)

    straight = run("straight")
    straight.fit(AugmentedBlobs(24), Blobs(6, seed=1))
    stopped = run("stopped", callbacks=[SignalAtStep(stop_at)])
    assert stopped.fit(AugmentedBlobs(24), Blobs(6, seed=1))["interrupted"]
    torch.rand(7), np.random.rand(3)  # whatever the process does in between must not matter
    resumed = run("stopped")
    resumed.fit(
        AugmentedBlobs(24), Blobs(6, seed=1), resume=tmp_path / "stopped" / "run" / "checkpoints" / "last"
    )
    assert resumed.progress.step == straight.progress.step == 9
    for (name, a), b in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), f"{name} differs after a stop at step {stop_at} ({workers} workers)"


def test_augmentation_depends_on_the_sample_and_epoch_not_on_what_ran_before(tmp_path: Path) -> None:
    trainer = bve.Trainer(Linear(), config(tmp_path, epochs=1))
    first = [b[0] for b in trainer._loader(AugmentedBlobs(24), train=True, epoch=0)]
    torch.rand(100), np.random.rand(100)
    again = [b[0] for b in trainer._loader(AugmentedBlobs(24), train=True, epoch=0)]
    skipped = [b[0] for b in trainer._loader(AugmentedBlobs(24), train=True, epoch=0, skip_batches=1)]
    other_epoch = [b[0] for b in trainer._loader(AugmentedBlobs(24), train=True, epoch=1)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(first[1:], skipped, strict=True))
    assert not torch.equal(torch.cat(first).sort(0).values, torch.cat(other_epoch).sort(0).values)


def test_leftovers_of_a_killed_checkpoint_write_are_repaired_on_the_next_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bve.Trainer(Linear(), config(tmp_path, epochs=2, max_steps=3)).fit(Blobs(24))
    checkpoints = tmp_path / "run" / "checkpoints"
    # Killed inside _swap_in: the old `last` moved aside, the new one still a temporary folder.
    os.replace(checkpoints / "last", checkpoints / ".last.old-4242")
    (checkpoints / ".last.k3j2h1").mkdir()
    (checkpoints / ".last.k3j2h1" / "model.safetensors").write_bytes(b"half")
    with caplog.at_level("WARNING"):
        resumed = bve.Trainer(Linear(), config(tmp_path, epochs=2))
        resumed.fit(Blobs(24), resume=checkpoints / "last")
    assert resumed.progress.epoch == 2
    assert "restored last from .last.old-4242" in caplog.text and "removed .last.k3j2h1" in caplog.text
    assert sorted(p.name for p in checkpoints.iterdir()) == ["last"]


def test_resuming_from_a_missing_last_points_to_an_intact_best(tmp_path: Path) -> None:
    bve.Trainer(Linear(), config(tmp_path, epochs=1)).fit(Blobs(24), Blobs(6, seed=1))
    checkpoints = tmp_path / "run" / "checkpoints"
    shutil.rmtree(checkpoints / "last")  # as if killed during its first write
    with pytest.raises(bve.CheckpointError, match=r"best is intact \(the best epoch so far, epoch 1\)"):
        bve.Trainer(Linear(), config(tmp_path, epochs=2)).fit(Blobs(24), resume=checkpoints / "last")


def test_a_run_built_with_an_integer_img_size_resumes(tmp_path: Path) -> None:
    def model() -> nn.Module:
        return bve.create_model("effnet_test", num_classes=3, img_size=64)  # an int, as the demo passes

    bve.Trainer(model(), config(tmp_path, epochs=2, max_steps=3)).fit(Blobs(24))
    resumed = bve.Trainer(model(), config(tmp_path, epochs=2))
    resumed.fit(Blobs(24), resume=tmp_path / "run" / "checkpoints" / "last")
    assert resumed.progress.epoch == 2


def _train_cli_signalled_after_step_one(out: Path, monkeypatch: pytest.MonkeyPatch, signals: int) -> int:
    """``brainvit-effnet train`` of a tiny model, sent ``signals`` SIGTERMs right after step 1."""
    from brainvit_effnet.cli import main

    original = bve.Trainer._optimizer_step

    def step_then_signal(self: bve.Trainer, *args: Any) -> None:
        original(self, *args)
        if self.progress.step == 1:
            for _ in range(signals):
                os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(bve.Trainer, "_optimizer_step", step_then_signal)
    argv = ["train", "--model", "effnet_test", "--epochs", "2", "--output-dir", str(out)]
    return main([*argv, "--set", "model_kwargs.img_size=64", "--set", "bootstrap=0"])


def test_a_stopped_experiment_publishes_nothing_and_the_cli_exits_with_the_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert _train_cli_signalled_after_step_one(out, monkeypatch, signals=1) == 143
    err = capsys.readouterr()
    assert "stopped: training was stopped by SIGTERM" in err.err and f"--resume {out}" in err.err
    assert "Test (" not in err.out
    assert not (out / "model").exists() and not (out / "report").exists()
    assert (out / "checkpoints" / "last" / "model.safetensors").is_file()


def test_two_signals_stop_at_once_with_a_message_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    # the second SIGTERM is the impatient one
    assert _train_cli_signalled_after_step_one(out, monkeypatch, signals=2) == 143
    err = capsys.readouterr().err
    assert "stopped at once by a second SIGTERM, without saving a new checkpoint" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert not (out / "model").exists()  # nothing published
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handlers are put back


class DictBlobs(Blobs):
    """The same data as MONAI's dictionary transforms yield it: {"image", "label"} with (1,) float labels."""

    def __getitem__(self, i: int) -> dict[str, Any]:  # type: ignore[override]
        image, label = super().__getitem__(i)
        return {"image": image, "label": torch.tensor([float(label)]), "image_meta_dict": {"id": i}}


def test_monai_style_dict_batches_train_and_evaluate_like_tuples(tmp_path: Path) -> None:
    torch.manual_seed(0)
    a = bve.Trainer(Linear(), config(tmp_path / "a", epochs=2))
    a.fit(Blobs(24), Blobs(6, seed=1))
    torch.manual_seed(0)
    b = bve.Trainer(Linear(), config(tmp_path / "b", epochs=2))
    b.fit(DictBlobs(24), DictBlobs(6, seed=1))
    assert torch.allclose(a.model.fc.weight, b.model.fc.weight, atol=1e-6)
    assert b.evaluate(DictBlobs(6, seed=1))["accuracy"] == a.evaluate(Blobs(6, seed=1))["accuracy"]

    class Renamed(Blobs):
        def __getitem__(self, i: int) -> dict[str, Any]:  # type: ignore[override]
            image, label = super().__getitem__(i)
            return {"img": image, "y": label}

    with pytest.raises(ValueError, match=r"needs the keys 'image' and 'label'.*missing \['image', 'label'\]"):
        bve.Trainer(Linear(), config(tmp_path / "c", epochs=1)).fit(Renamed(8))
    custom = bve.Trainer(
        Linear(), config(tmp_path / "d", epochs=1), prepare_batch=lambda b: (b["img"], b["y"])
    )
    custom.fit(Renamed(8))
    assert custom.progress.step == 1


def test_the_device_option_is_honoured(tmp_path: Path) -> None:
    trainer = bve.Trainer(Linear(), config(tmp_path, epochs=1, device="cpu"))
    assert trainer.device == torch.device("cpu")
    trainer.fit(Blobs(8))
    assert next(trainer.model.parameters()).device.type == "cpu"
    with pytest.raises(ValueError, match=r"option train\.device must be a string or null"):
        config(tmp_path, device=0)


def test_early_stopping_and_callbacks(tmp_path: Path) -> None:
    events: list[tuple[str, Any]] = []

    class Recorder(bve.Callback):
        def on_fit_start(self, trainer: bve.Trainer) -> None:
            events.append(("start", trainer.progress.epoch))

        def on_epoch_end(self, trainer: bve.Trainer, logs: dict[str, Any]) -> None:
            events.append(("epoch", logs["epoch"]))

        def on_fit_end(self, trainer: bve.Trainer, result: dict[str, Any]) -> None:
            events.append(("end", result["stopped_early"]))

    # SGD steps of 1e-12 are below float32 resolution: val_loss never changes after epoch 1, so
    # patience 2 stops after epoch 3 of 10
    cfg = config(tmp_path, epochs=10, lr=1e-12, optimizer="sgd", early_stopping_patience=2)
    cfg.monitor, cfg.monitor_mode = "val_loss", "min"
    result = bve.Trainer(Linear(), cfg, callbacks=[Recorder()]).fit(Blobs(16), Blobs(6, seed=1))
    assert result["stopped_early"] and len(result["history"]) == 3 and result["best_epoch"] == 1
    assert events == [("start", 0), ("epoch", 1), ("epoch", 2), ("epoch", 3), ("end", True)]


def test_resume_errors(tmp_path: Path) -> None:
    bve.Trainer(tiny(), config(tmp_path, epochs=1, limit_train_batches=1)).fit(Blobs(16))
    last = tmp_path / "run" / "checkpoints" / "last"
    other = bve.create_model("effnet_test_tf", num_classes=3, depth=2)
    with pytest.raises(bve.CheckpointError, match="different model configuration: depth"):
        bve.Trainer(other, config(tmp_path, epochs=2)).fit(Blobs(16), resume=last)
    with pytest.raises(bve.CheckpointError, match="trained with 'effnet_test_tf'"):
        bve.Trainer(bve.create_model("effnet_test", num_classes=3), config(tmp_path, epochs=2)).fit(
            Blobs(16), resume=last
        )
    (last / "trainer_state.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(bve.CheckpointError, match="corrupted"):
        bve.Trainer(tiny(), config(tmp_path, epochs=2)).fit(Blobs(16), resume=last)
    with pytest.raises(bve.CheckpointError, match="does not exist"):
        bve.Trainer(tiny(), config(tmp_path, epochs=2)).fit(Blobs(16), resume=tmp_path / "nope")


def test_label_and_class_count_mismatch_fail_before_training(tmp_path: Path) -> None:
    model = bve.create_model("effnet_test_tf", num_classes=2)
    with pytest.raises(ValueError, match=r"3 classes.*num_classes=2"):
        bve.Trainer(model, config(tmp_path)).fit(Blobs(6))
    bad = TensorDataset(torch.rand(4, 3, 64, 64), torch.tensor([0, 1, 2, 5]))
    bad.targets = [0, 1, 2, 5]  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"labels in \[0, 5\]"):
        bve.Trainer(tiny(), config(tmp_path)).fit(bad)
    assert not (tmp_path / "run").exists()


def test_gradient_accumulation_matches_a_larger_batch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    a = bve.Trainer(
        Linear(), config(tmp_path / "a", epochs=1, batch_size=8, scheduler="none", optimizer="sgd")
    )
    torch.manual_seed(0)
    b = bve.Trainer(
        Linear(),
        config(tmp_path / "b", epochs=1, batch_size=4, grad_accum_steps=2, scheduler="none", optimizer="sgd"),
    )
    a.fit(Blobs(8))
    b.fit(Blobs(8))
    assert a.progress.step == b.progress.step == 1
    # shuffling differs in batch composition but one step over the same 8 samples is the same step
    assert torch.allclose(a.model.fc.weight, b.model.fc.weight, atol=1e-6)


class Imbalanced(Dataset):
    """20 blobs of class a, 2 of b, 2 of c; items are tagged so prepare_batch sees training batches."""

    classes = Blobs.classes

    def __init__(self) -> None:
        blobs = Blobs(60)
        keep = [i for i in range(60) if blobs.targets[i] == 0][:20]
        keep += [i for i in range(60) if blobs.targets[i] == 1][:2]
        keep += [i for i in range(60) if blobs.targets[i] == 2][:2]
        self.images = blobs.images[keep]
        self.targets = [blobs.targets[i] for i in keep]

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, str]:
        return self.images[i], self.targets[i], "train"


def test_options_bf16_ema_freeze_clip_balanced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[int] = []  # labels of the training batches

    def recording(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = bve.train.trainer.default_prepare_batch(batch)
        if len(batch) == 3:  # an Imbalanced (training) batch
            drawn.extend(labels.tolist())
        return images, labels

    norms: list[tuple[float, float]] = []  # (before, after) clipping, per optimiser step
    real_clip = torch.nn.utils.clip_grad_norm_

    def clip_and_measure(parameters: Any, max_norm: float, *args: Any, **kwargs: Any) -> torch.Tensor:
        parameters = [p for p in parameters if p.grad is not None]
        before = real_clip(parameters, max_norm, *args, **kwargs)
        after = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in parameters]))
        norms.append((float(before), float(after)))
        return before

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip_and_measure)
    model = tiny()
    stem = model.backbone.conv_stem.weight.detach().clone()
    cfg = config(
        tmp_path,
        epochs=1,
        precision="bf16",
        ema_decay=0.9,
        freeze_backbone_epochs=1,
        pretrained=True,  # freezing is for pretrained backbones (a random one warns)
        clip_grad_norm=0.05,
        balanced_sampler=True,
        limit_train_batches=2,
    )
    trainer = bve.Trainer(model, cfg, prepare_batch=recording)
    trainer.fit(Imbalanced(), Blobs(6))
    assert torch.equal(model.backbone.conv_stem.weight, stem)  # frozen during epoch 1
    best = load_file(str(tmp_path / "run" / "checkpoints" / "best" / "model.safetensors"))
    assert not torch.equal(best["head.weight"], model.head.weight.detach())  # best = EMA weights
    # Clipping: every optimiser step clipped, to at most clip_grad_norm, and it did bind.
    assert len(norms) == trainer.progress.step == 2
    assert all(after <= 0.05 * (1 + 1e-3) for _, after in norms)
    assert any(before > 0.05 for before, _ in norms)
    # The balanced sampler: 16 draws from 20/2/2 slices; without it class a would fill ~13 of them.
    counts = np.bincount(drawn, minlength=3)
    assert counts.sum() == 16 and counts.min() >= 2 and counts[0] <= 9, counts
    with pytest.raises(ValueError, match="fp16"):
        bve.Trainer(tiny(), config(tmp_path / "x", precision="fp16")).fit(Blobs(6))


def test_ema_warmup_follows_the_weights_a_plain_ema_lags_at_the_start(tmp_path: Path) -> None:
    """timm's EMA copies the weights at the first step, then a plain 0.999 barely moves: from random
    weights it stays near the first step's. With the warm-up it follows the trained weights."""
    gaps = {}
    for warmup in (False, True):
        torch.manual_seed(0)
        cfg = config(tmp_path / str(warmup), epochs=1, lr=0.05, ema_decay=0.999, ema_warmup=warmup)
        bve.Trainer(tiny(), cfg).fit(Blobs(32), Blobs(6))  # 4 optimiser steps
        folder = tmp_path / str(warmup) / "run" / "checkpoints"
        ema = load_file(str(folder / "best" / "model.safetensors"))["head.weight"]  # best = EMA weights
        trained = load_file(str(folder / "last" / "model.safetensors"))["head.weight"]  # last = raw weights
        gaps[warmup] = float((ema - trained).norm())
    assert gaps[True] < 0.5 * gaps[False], gaps


def test_mixup_and_cutmix_train_on_soft_targets_and_evaluate_on_hard_labels(tmp_path: Path) -> None:
    """Training batches are mixed (soft targets, smoothing folded in; an odd last batch unmixed).
    Losses with no soft-target form are refused before training."""
    seen: dict[str, list[Any]] = {"train": []}

    def spy(kind: str, loss: nn.Module) -> None:
        forward = loss.forward

        def recording(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            seen[kind].append((target.shape, target.dtype, target.sum(-1) if target.ndim == 2 else None))
            return forward(logits, target)

        loss.forward = recording  # type: ignore[method-assign]

    cfg = config(
        tmp_path,
        epochs=1,
        batch_size=4,
        mixup_alpha=0.4,
        cutmix_alpha=1.0,
        loss="label_smoothing",
        loss_kwargs={"smoothing": 0.1},
    )
    trainer = bve.Trainer(tiny(), cfg)
    assert trainer.mixer is not None and trainer.mixer.smoothing == 0.1
    spy("train", trainer.mixer.loss)
    trainer.fit(Blobs(9), Blobs(6))  # batches of 4, 4 and 1 (odd: trained unmixed)
    assert [shape for shape, *_ in seen["train"]] == [(4, 3), (4, 3), (1, 3)]
    assert all(
        dtype.is_floating_point and torch.allclose(s, torch.ones_like(s)) for _, dtype, s in seen["train"]
    )

    with pytest.raises(ValueError, match="soft targets"):
        bve.Trainer(tiny(), config(tmp_path, mixup_alpha=0.2, loss="focal"))
    with pytest.raises(ValueError, match="custom loss_fn"):
        bve.Trainer(tiny(), config(tmp_path, cutmix_alpha=1.0), loss_fn=nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match=r"mixup_alpha must be in \[0, inf\)"):
        config(tmp_path, mixup_alpha=-0.1)
    assert bve.Trainer(tiny(), config(tmp_path)).mixer is None  # off by default


def test_config_round_trip_and_unknown_options(tmp_path: Path) -> None:
    cfg = config(tmp_path, loss="label_smoothing", loss_kwargs={"smoothing": 0.1})
    path = tmp_path / "train.yaml"
    path.write_text(cfg.to_json())
    assert bve.TrainConfig.from_file(path) == cfg
    with pytest.raises(ValueError, match="did you mean 'epochs'"):
        bve.TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="optimizer must be one of"):
        bve.TrainConfig(optimizer="lion")


def test_trains_on_the_bundled_sample_with_the_study_transforms(tmp_path: Path) -> None:
    model = bve.create_model("effnet_test_tf", num_classes=3)
    train_tf, eval_tf = create_transforms(model)
    shapes: set[tuple[int, ...]] = set()

    def recording(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = bve.train.trainer.default_prepare_batch(batch)
        shapes.add(tuple(images.shape[1:]))
        return images, labels

    head = model.head.weight.detach().clone()
    trainer = bve.Trainer(
        model, config(tmp_path, epochs=1, limit_train_batches=2, batch_size=8), prepare_batch=recording
    )
    val = load_sample([5], transform=eval_tf)
    result = trainer.fit(load_sample([1, 2, 3], transform=train_tf), val)
    # The study transforms turn the sample's slices into the model's input size, and it trains on them.
    assert shapes == {tuple(model.pretrained_cfg["input_size"])}
    assert len(result["history"]) == 1 and trainer.progress.step == 2
    assert math.isfinite(result["history"][0]["train_loss"]) and result["history"][0]["train_loss"] > 0
    assert not torch.equal(model.head.weight.detach(), head)
    # The logged validation accuracy is the trained model's accuracy on the sample's fold 5.
    assert result["history"][0]["val_accuracy"] == trainer.evaluate(val)["accuracy"]


def test_evaluation_intervals_resample_patients_when_the_data_names_them(tmp_path: Path) -> None:
    from brainvit_effnet.data.base import SampleRecord

    class WithPatients(Blobs):
        def __init__(self, n: int, patients: bool) -> None:
            super().__init__(n, seed=1)
            self.records = [
                SampleRecord(f"{i}.png", t, "abc"[t], patient_id=f"p{i // 3}" if patients else None)
                for i, t in enumerate(self.targets)
            ]

    trainer = bve.Trainer(Linear(), config(tmp_path, epochs=1))
    assert trainer.evaluate(WithPatients(12, patients=True), bootstrap=50)["ci_unit"] == "patient"
    assert trainer.evaluate(WithPatients(12, patients=False), bootstrap=50)["ci_unit"] == "image"


def test_predict_and_evaluate_leave_the_model_in_the_mode_it_was_in(tmp_path: Path) -> None:
    model = Linear()
    trainer = bve.Trainer(model, config(tmp_path, epochs=1))
    model.train()
    trainer.predict(Blobs(8))
    assert model.training
    model.fc.eval()  # mixed modes (a frozen part kept in eval) come back as they were
    trainer.evaluate(Blobs(8))
    assert model.training and not model.fc.training
