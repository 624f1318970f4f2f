"""The Trainer: an explicit loop you can read top to bottom.

``fit`` runs epochs of (micro-batches -> optimiser step -> scheduler step), evaluates, logs one
JSON line per epoch and writes ``checkpoints/last`` (every epoch) and ``checkpoints/best``
(when ``config.monitor`` improves). ``fit(resume=...)`` continues from a checkpoint folder:
model, optimiser, scheduler, EMA, gradient scaler, RNG states, counters and history.

It relies only on the model interface (``forward``, ``num_classes``, optionally
``freeze_backbone`` and ``backbone``), so it also trains plain timm classifiers.

Examples:
    >>> import brainvit_effnet as bve
    >>> from brainvit_effnet.data import create_transforms, load_sample
    >>> model = bve.create_model("effnet_test_tf", num_classes=3)
    >>> train_tf, eval_tf = create_transforms(model)
    >>> trainer = bve.Trainer(model, bve.TrainConfig(epochs=2, batch_size=16, output_dir="runs/demo"))
    >>> result = trainer.fit(load_sample([1, 2, 3], transform=train_tf), load_sample([4], transform=eval_tf))
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import signal
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler, WeightedRandomSampler

from .._atomic import write_text_atomically
from .._json import dumps
from .._progress import progress_bar
from .._tensors import eval_mode
from ..errors import BrainvitError, CheckpointError, InterruptedAgain, InvalidArgumentError
from ..losses import create_loss
from ..metrics import classification_report
from ..results import KEY_METRICS, ClassificationReport, FitResult
from . import distributed as dist
from .checkpoint import check_output_dir, check_same_architecture, tidy_checkpoints, write_checkpoint
from .config import TrainConfig, default_backbone_lr_scale
from .counterfactual import counterfactual_occlusion
from .mixing import batch_mixer
from .seeding import SeededSamples, seed_everything
from .state import capture_rng, load_state, load_weights, restore_rng

__all__ = ["Callback", "Trainer", "TrainingDivergedError", "default_prepare_batch"]

_logger = logging.getLogger(__name__)


def _batch_masks(batch: Any) -> Tensor:
    """The tumour masks of a training batch (its third element, or ``"mask"``): counterfactual occlusion."""
    masks = batch.get("mask") if isinstance(batch, Mapping) else (batch[2] if len(batch) > 2 else None)
    if masks is None:
        raise InvalidArgumentError(
            "counterfactual_prob needs training data that yields tumour masks (image, label, mask): "
            "Figshare (its outlines), or a dataset created with return_mask=True."
        )
    return torch.as_tensor(masks)


def default_prepare_batch(batch: Any) -> tuple[Tensor, Tensor]:
    """``(images, labels)`` of a batch: a ``(images, labels, ...)`` sequence, or a mapping with
    ``"image"`` and ``"label"`` (MONAI's dictionary transforms). Labels become a ``(B,)`` long tensor
    (MONAI often gives ``(B, 1)`` floats).
    """
    if isinstance(batch, Mapping):
        missing = [k for k in ("image", "label") if k not in batch]
        if missing:
            raise InvalidArgumentError(
                f"a dict batch needs the keys 'image' and 'label' (MONAI's convention); it has "
                f"{sorted(batch)} (missing {missing}). Pass Trainer(prepare_batch=...) for other keys."
            )
        images, labels = batch["image"], batch["label"]
    else:
        images, labels = batch[0], batch[1]
    labels = torch.as_tensor(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    return torch.as_tensor(images), labels.long()


def _patient_groups(data: Any) -> list[str] | None:
    """Patient keys of a dataset whose every record names its patient, else ``None`` (images)."""
    records = getattr(data, "records", None)
    if not records or any(getattr(r, "patient_id", None) is None for r in records):
        return None
    return [str(r.patient_id) for r in records]


class TrainingDivergedError(BrainvitError, RuntimeError):
    """The loss became NaN or infinite; the message names the step and the intact checkpoint."""


class Callback:
    """Hooks into :meth:`Trainer.fit`; override what you need. ``logs`` is the epoch's JSON line."""

    def on_fit_start(self, trainer: Trainer) -> None:
        """Before the first epoch (after resuming)."""

    def on_step_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        """After every optimiser step: ``logs`` has ``epoch``, ``batch``, ``step``, ``loss``, ``lr``."""

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        """After evaluation and checkpointing of an epoch."""

    def on_fit_end(self, trainer: Trainer, result: FitResult) -> None:
        """After the last epoch or an early stop."""


@dataclass
class _Progress:
    """Counters saved in checkpoints."""

    epoch: int = 0  # completed epochs
    step: int = 0  # optimiser steps
    # Within the current epoch (a checkpoint saved mid-epoch by a signal): batches done and their
    # summed loss and sample count, so a resume continues with the next batch, not batch 0.
    batch: int = 0
    partial_loss: float = 0.0
    partial_seen: int = 0
    best: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Run:
    """What one ``fit`` call trains with: the model (and its wrapped/compiled form), optimiser & co."""

    model: nn.Module  # on the device; checkpoints save this one
    train_model: nn.Module  # the same, wrapped for DDP and compiled where asked
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    ema: Any


class Trainer:
    """Trains and evaluates a classifier; see the module docstring.

    Args:
        model: A classifier (``forward`` -> logits ``(B, num_classes)``).
        config: Training options.
        loss_fn: A loss module; default: ``create_loss(config.loss, num_classes, **config.loss_kwargs)``.
        callbacks: Objects with :class:`Callback` hooks.
        prepare_batch: ``batch -> (images, labels)`` for batches of another shape; default
            :func:`default_prepare_batch` (``(images, labels, ...)`` tuples, and MONAI-style dicts
            with ``"image"`` and ``"label"``).
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig | None = None,
        *,
        loss_fn: nn.Module | None = None,
        callbacks: Sequence[Callback] = (),
        prepare_batch: Callable[[Any], tuple[Tensor, Tensor]] | None = None,
    ) -> None:
        self.config = config or TrainConfig()
        self.model = model
        self.num_classes = int(getattr(model, "num_classes", 0))
        if self.num_classes < 1:
            raise InvalidArgumentError(
                "the model must have num_classes >= 1 (a classifier head) to be trained."
            )
        self.loss_fn = loss_fn or create_loss(
            self.config.loss, num_classes=self.num_classes, **self.config.loss_kwargs
        )
        # Mixup/CutMix: training batches get soft targets and the loss that reads them.
        self.mixer = batch_mixer(self.config, self.num_classes, custom_loss=loss_fn is not None)
        # Counterfactual occlusion: tumours hidden with a uniform target, controls with their own.
        self.counterfactual = counterfactual_occlusion(
            self.config, self.num_classes, model, custom_loss=loss_fn is not None
        )
        self.callbacks = list(callbacks)
        self.prepare_batch = prepare_batch or default_prepare_batch
        self.device = (
            torch.device(self.config.device)
            if self.config.device is not None
            else torch.device("cuda" if torch.cuda.is_available() else "cpu")
        )
        self.output_dir = Path(self.config.output_dir)
        self.progress = _Progress()
        self.stop_requested = False
        self._interrupted_by: int | None = None
        self.model_args = dict(getattr(model, "_model_args", {}))
        self.lr_rule: str | None = None  # how fit() chose the backbone's learning rate

    # -- set-up -----------------------------------------------------------------------------------
    def _check_data(self, data: Dataset[Any], name: str) -> None:
        classes = getattr(data, "classes", None)
        if classes is not None and len(classes) != self.num_classes:
            raise InvalidArgumentError(
                f"{name} has {len(classes)} classes {list(classes)} but the model has num_classes="
                f"{self.num_classes}; create the model with num_classes={len(classes)}."
            )
        targets = getattr(data, "targets", None)
        if targets is not None and len(targets):
            low, high = min(targets), max(targets)
            if low < 0 or high >= self.num_classes:
                raise InvalidArgumentError(
                    f"{name} has labels in [{low}, {high}] but the model predicts {self.num_classes} classes "
                    f"(labels 0..{self.num_classes - 1})."
                )

    def _loader(
        self, data: Dataset[Any], *, train: bool, epoch: int = 0, skip_batches: int = 0
    ) -> DataLoader[Any]:
        """Batches in an order fixed by (seed, epoch): a resumed run sees the same order.

        The shuffled order is the permutation a ``DistributedSampler`` with the same seed draws, so
        N processes with batch B step through exactly the samples one process with batch N*B does.
        ``skip_batches`` leaves out the epoch's first batches (a mid-epoch resume) without loading
        them. Training samples are drawn through :class:`~.seeding.SeededSamples`: each one's
        augmentation depends on (seed, epoch, sample) alone, so skipping, workers and interruptions
        change nothing, and loading never moves the main process's generators.
        """
        cfg = self.config
        seed = cfg.seed * 1000 + epoch
        sampler: Any
        if dist.is_distributed():
            sampler = dist.distributed_sampler(data, shuffle=train, seed=cfg.seed * 1000, epoch=epoch)
        elif train and cfg.balanced_sampler:
            targets = np.asarray(self._targets(data))
            weights = 1.0 / np.bincount(targets, minlength=self.num_classes)[targets]
            generator = torch.Generator().manual_seed(seed)
            sampler = WeightedRandomSampler(weights.tolist(), len(targets), generator=generator)
        elif train:
            sampler = RandomSampler(data, generator=torch.Generator().manual_seed(seed))  # type: ignore[arg-type]
        else:
            sampler = SequentialSampler(data)  # type: ignore[arg-type]
        if train and not dist.is_distributed():
            # Drawn once, here: a sampler that draws as it is iterated gives another order each time
            # the loader is iterated (worker prefetching iterates it early).
            sampler = list(sampler)
        if skip_batches:
            sampler = list(sampler)[skip_batches * cfg.batch_size :]
        return DataLoader(
            SeededSamples(data, seed) if train else data,  # augmentation fixed by (seed, epoch, sample)
            batch_size=cfg.batch_size,
            sampler=sampler,
            num_workers=cfg.num_workers,
            generator=torch.Generator().manual_seed(seed + 1),  # worker seeds
            drop_last=False,
            persistent_workers=False,
        )

    def _resolve_config(self, cfg: TrainConfig) -> TrainConfig:
        """Fill the options left to the Trainer (``None``) and warn about those that cannot apply.

        The resolved values are what ``train_config.json`` records; the rule is logged.
        """
        has_backbone = isinstance(getattr(self.model, "backbone", None), nn.Module)
        source = getattr(self.model, "weights_source", None)
        pretrained = cfg.pretrained if cfg.pretrained is not None else source is not None
        if cfg.backbone_lr_scale is None:
            scale = default_backbone_lr_scale(pretrained)
            why = "pretrained backbone: fine-tuning rule" if pretrained else "backbone trained from scratch"
            rule = f"backbone_lr_scale={scale} ({why}{f', weights from {source}' if source else ''})"
        else:
            scale = cfg.backbone_lr_scale
            rule = f"backbone_lr_scale={scale} (set in the config)"
        if not has_backbone:
            for option, value, inert in (
                ("backbone_lr_scale", cfg.backbone_lr_scale, (None, 1.0)),
                ("freeze_backbone_epochs", cfg.freeze_backbone_epochs, (0,)),
            ):
                if value not in inert:
                    warnings.warn(
                        f"TrainConfig.{option}={value} cannot apply: {type(self.model).__name__} has no "
                        f"'backbone' submodule (a plain timm model?), so every parameter trains at lr="
                        f"{cfg.lr} from the first epoch. Remove the option, or wrap the feature extractor "
                        f"as model.backbone.",
                        UserWarning,
                        stacklevel=3,
                    )
            rule = f"one learning rate for every parameter ({type(self.model).__name__} has no backbone)"
        elif cfg.freeze_backbone_epochs and not pretrained:
            warnings.warn(
                f"TrainConfig.freeze_backbone_epochs={cfg.freeze_backbone_epochs} freezes a backbone that "
                f"was not loaded from pretrained weights: the head then trains on random features. Use it "
                f"when fine-tuning (pretrained=True), or set TrainConfig.pretrained=True if the weights "
                f"were loaded another way.",
                UserWarning,
                stacklevel=3,
            )
        channels_last = True if cfg.channels_last is None else cfg.channels_last
        _logger.info(
            "Learning rates: %s; channels_last=%s, precision=%s.", rule, channels_last, cfg.precision
        )
        self.lr_rule = rule
        return dataclasses.replace(
            cfg, pretrained=pretrained, backbone_lr_scale=scale, channels_last=channels_last
        )

    def _param_groups(self) -> list[dict[str, Any]]:
        """Backbone at ``lr * backbone_lr_scale``; no weight decay on 1-D params and exempt names."""
        cfg = self.config
        scale = cfg.backbone_lr_scale if cfg.backbone_lr_scale is not None else 1.0  # resolved by fit()
        exempt = set(getattr(self.model, "no_weight_decay", set)())
        groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
        for name, p in self.model.named_parameters():
            key = (name.startswith("backbone."), p.ndim <= 1 or name in exempt)
            groups.setdefault(key, []).append(p)
        return [
            {
                "params": params,
                "lr": cfg.lr * (scale if backbone else 1.0),
                "weight_decay": 0.0 if no_decay else cfg.weight_decay,
                "name": f"{'backbone' if backbone else 'head'}{'_no_decay' if no_decay else ''}",
            }
            for (backbone, no_decay), params in sorted(groups.items())
        ]

    def _optimizer(self) -> torch.optim.Optimizer:
        cfg, groups = self.config, self._param_groups()
        if cfg.optimizer == "adamw":
            return torch.optim.AdamW(groups, lr=cfg.lr)
        if cfg.optimizer == "adam":
            return torch.optim.Adam(groups, lr=cfg.lr)
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)

    def _scheduler(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> Any:
        cfg = self.config
        if cfg.scheduler == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer,
                mode="max" if cfg.monitor_mode == "max" else "min",
                factor=cfg.plateau_factor,
                patience=cfg.plateau_patience,
            )
        if cfg.scheduler == "none":
            return None
        total = max(1, cfg.epochs * steps_per_epoch)
        warmup = int(cfg.warmup_epochs * steps_per_epoch)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        precision = self.config.precision
        if precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    # -- training ---------------------------------------------------------------------------------
    def fit(
        self,
        train_data: Dataset[Any],
        val_data: Dataset[Any] | None = None,
        *,
        resume: str | Path | None = None,
    ) -> FitResult:
        """Train; returns a :class:`~brainvit_effnet.results.FitResult` (``history``, ``best_epoch``,
        ``best``, ``monitor``, ``checkpoints``, ``stopped_early``, ``interrupted``, ``signal``).

        Raises:
            ValueError: labels or class count that do not fit the model.
            FileExistsError: ``output_dir`` holds a run (and neither resume nor overwrite).
            CheckpointError: a corrupted checkpoint, or one from another model configuration.
            TrainingDivergedError: a NaN/inf loss (the last good checkpoint is left intact).
        """
        run = self._start_fit(train_data, val_data, resume)
        for cb in self.callbacks:
            cb.on_fit_start(self)
        stopped_early = False
        with self._signal_guard():
            while self.progress.epoch < self.config.epochs and not self._max_steps_reached():
                outcome = self._fit_epoch(run, train_data, val_data)
                if outcome != "next":
                    stopped_early = outcome == "early_stop"
                    break
        result = self._fit_result(val_data is not None, stopped_early)
        for cb in self.callbacks:
            cb.on_fit_end(self, result)
        return result

    def _start_fit(
        self, train_data: Dataset[Any], val_data: Dataset[Any] | None, resume: str | Path | None
    ) -> _Run:
        """Everything before the first epoch: checks, seeding, optimiser, resume, ``train_config.json``."""
        self.config = cfg = self._resolve_config(self.config)
        dist.init()  # no-op unless launched by torchrun
        if dist.is_distributed() and torch.cuda.is_available():
            self.device = torch.device("cuda", torch.cuda.current_device())
        if cfg.precision == "fp16" and self.device.type != "cuda":
            raise InvalidArgumentError("precision='fp16' needs CUDA; use 'bf16' on CPU.")
        self._check_data(train_data, "the training data")
        if val_data is not None:
            self._check_data(val_data, "the validation data")
        check_output_dir(self.output_dir, overwrite=cfg.overwrite, resuming=resume is not None)
        if dist.is_main():  # a killed checkpoint write leaves folders behind: repair before use
            for action in tidy_checkpoints(self.output_dir / "checkpoints"):
                _logger.warning("Checkpoints of %s: %s", self.output_dir, action)
        seed_everything(cfg.seed)
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)

        model = self.model.to(self.device)
        self.loss_fn.to(self.device)
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        optimizer = self._optimizer()
        steps_per_epoch = math.ceil(
            min(len(self._loader(train_data, train=True)), cfg.limit_train_batches or 10**12)
            / cfg.grad_accum_steps
        )
        scheduler = self._scheduler(optimizer, steps_per_epoch)
        scaler = torch.amp.GradScaler("cuda", enabled=cfg.precision == "fp16")
        ema = self._make_ema(model)
        if resume is not None:
            self._resume(Path(resume), optimizer, scheduler, scaler, ema)
        train_model: nn.Module = dist.wrap(model)
        if cfg.compile:
            train_model = torch.compile(train_model)  # type: ignore[assignment]

        if dist.is_main():
            self.output_dir.mkdir(parents=True, exist_ok=True)
            write_text_atomically(self.output_dir / "train_config.json", cfg.to_json())
        return _Run(model, train_model, optimizer, scheduler, scaler, ema)

    def _fit_epoch(
        self, run: _Run, train_data: Dataset[Any], val_data: Dataset[Any] | None
    ) -> Literal["next", "interrupted", "early_stop"]:
        """One epoch: train, validate, step a plateau scheduler, checkpoint, log, callbacks."""
        cfg = self.config
        epoch = self.progress.epoch
        self._apply_freeze(epoch)
        start = time.perf_counter()
        train_loss, images = self._train_epoch(
            run.train_model, train_data, run.optimizer, run.scheduler, run.scaler, run.ema, epoch
        )
        if self.stop_requested:
            self._save("last", run.model, run.optimizer, run.scheduler, run.scaler, run.ema)
            _logger.warning(
                "Interrupted: saved a resumable checkpoint to %s", self.output_dir / "checkpoints/last"
            )
            return "interrupted"
        seconds = time.perf_counter() - start
        logs: dict[str, Any] = {
            "epoch": epoch + 1,
            "step": self.progress.step,
            "train_loss": train_loss,
            "lr": run.optimizer.param_groups[-1]["lr"],
            "img_per_s": images / seconds if seconds > 0 else None,
            "seconds": seconds,
        }
        if epoch == 0:  # the run log says which learning-rate rule was applied
            logs["lr_rule"] = self.lr_rule
        best_model = run.ema.module if run.ema is not None else run.model
        if val_data is not None:
            report = self.evaluate(val_data, model=best_model)
            logs.update({f"val_{k}": report[k] for k in ("loss", *KEY_METRICS)})  # type: ignore[literal-required]
        if isinstance(run.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) and cfg.monitor in logs:
            run.scheduler.step(logs[cfg.monitor])
        self.progress.epoch = epoch + 1
        self.progress.batch, self.progress.partial_loss, self.progress.partial_seen = 0, 0.0, 0
        improved = self._track_best(logs)
        self.progress.history.append(logs)
        if improved and val_data is not None:  # without validation, best is simply last
            self._save("best", best_model, run.optimizer, run.scheduler, run.scaler, run.ema)
        self._save("last", run.model, run.optimizer, run.scheduler, run.scaler, run.ema)
        self._log(logs)
        for cb in self.callbacks:
            cb.on_epoch_end(self, logs)
        if (
            cfg.early_stopping_patience is not None
            and self.progress.bad_epochs >= cfg.early_stopping_patience
        ):
            _logger.info(
                "Early stop after epoch %d: no %s improvement for %d epochs.",
                epoch + 1,
                cfg.monitor,
                self.progress.bad_epochs,
            )
            return "early_stop"
        return "next"

    def _fit_result(self, validated: bool, stopped_early: bool) -> FitResult:
        checkpoints = self.output_dir / "checkpoints"
        return {
            "history": self.progress.history,
            "best_epoch": self.progress.best_epoch,
            "best": self.progress.best,
            "monitor": self.config.monitor,
            "checkpoints": {
                "best": str(checkpoints / ("best" if validated else "last")),
                "last": str(checkpoints / "last"),
            },
            "stopped_early": stopped_early,
            "interrupted": self.stop_requested,
            # The signal that stopped the run (e.g. "SIGTERM"), or None.
            "signal": signal.Signals(self._interrupted_by).name if self._interrupted_by else None,
        }

    def _train_epoch(
        self,
        model: nn.Module,
        data: Dataset[Any],
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        scaler: torch.amp.GradScaler,
        ema: Any,
        epoch: int,
    ) -> tuple[float, int]:
        cfg = self.config
        model.train()
        done = self.progress.batch  # > 0 when resuming from a checkpoint saved mid-epoch
        total, seen = self.progress.partial_loss, self.progress.partial_seen
        full = len(self._loader(data, train=True, epoch=epoch))
        loader = self._loader(data, train=True, epoch=epoch, skip_batches=done)
        limit = min(cfg.limit_train_batches or full, full)
        bar = self._bar(loader, total=max(0, limit - done), desc=f"epoch {epoch + 1}/{cfg.epochs}")
        optimizer.zero_grad(set_to_none=True)
        for batch_index, batch in enumerate(bar, start=done):
            if batch_index >= limit or self._max_steps_reached():
                break
            # Stop between optimiser steps only, so no accumulated gradient is lost.
            if self.stop_requested and batch_index % cfg.grad_accum_steps == 0:
                break
            images, labels = self.prepare_batch(batch)
            targets, train_loss = labels, self.loss_fn
            if self.counterfactual is not None:
                occluded = self.counterfactual(images, labels, _batch_masks(batch))
                (images, targets), train_loss = occluded, self.counterfactual.loss
            images, labels = self._to_device(images), labels.to(self.device)
            targets = targets.to(self.device)
            if self.mixer is not None:
                (images, targets), train_loss = self.mixer(images, labels), self.mixer.loss
            with self._autocast():
                loss = train_loss(model(images).float(), targets)
            if not torch.isfinite(loss):
                last = self.output_dir / "checkpoints" / "last"
                kept = (
                    f"The last good checkpoint {last} is intact."
                    if last.is_dir()
                    else "No checkpoint was written yet (it diverged in the first epoch)."
                )
                raise TrainingDivergedError(
                    f"loss is {loss.item()} at epoch {epoch + 1}, batch {batch_index + 1} (optimiser step "
                    f"{self.progress.step + 1}); stopped. {kept} Lower the learning rate or "
                    f"enable clip_grad_norm."
                )
            scaler.scale(loss / cfg.grad_accum_steps).backward()
            total += loss.item() * len(labels)
            seen += len(labels)
            if (batch_index + 1) % cfg.grad_accum_steps == 0 or batch_index + 1 == limit:
                self._optimizer_step(model, optimizer, scheduler, scaler, ema)
                self.progress.batch, self.progress.partial_loss, self.progress.partial_seen = (
                    batch_index + 1,
                    total,
                    seen,
                )
                step_logs = {
                    "epoch": epoch + 1,
                    "batch": batch_index + 1,
                    "step": self.progress.step,
                    "loss": loss.item(),
                    "lr": optimizer.param_groups[-1]["lr"],
                }
                for cb in self.callbacks:
                    cb.on_step_end(self, step_logs)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{loss.item():.4f}")
        next_epoch = getattr(self.loss_fn, "next_epoch", None)
        if callable(next_epoch):  # online label smoothing swaps in this epoch's soft labels
            next_epoch()
        mean = dist.mean_over_ranks(total, seen)
        return mean, seen * dist.world_size()

    def _optimizer_step(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        scaler: torch.amp.GradScaler,
        ema: Any,
    ) -> None:
        cfg = self.config
        if cfg.clip_grad_norm is not None:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        self.progress.step += 1
        if scheduler is not None and not isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step()
        if ema is not None:
            ema.update(self.model, step=self.progress.step)

    # -- evaluation and prediction ----------------------------------------------------------------
    @torch.no_grad()
    def predict(
        self, data: Dataset[Any], *, return_logits: bool = False, model: nn.Module | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities ``(N, C)`` and labels ``(N,)`` for every sample, in dataset order.

        Args:
            data: A labelled dataset (unlabelled samples carry label -1).
            return_logits: Return the raw logits instead of probabilities, e.g. to fit a
                temperature with :func:`brainvit_effnet.metrics.fit_temperature`.
            model: Predict with this module instead of ``trainer.model`` (e.g. the EMA copy of the
                weights, as ``fit`` validates), on the Trainer's device, batching and precision.

        In a distributed run the data are sharded over the ranks and every rank gets all predictions.
        """
        model = (model or self.model).to(self.device)
        loader = self._loader(data, train=False)
        limit = self.config.limit_val_batches or len(loader)
        outputs, labels = [], []
        bar = self._bar(loader, total=min(limit, len(loader)), desc="predict")
        with eval_mode(model):  # the model comes back in the mode it was in
            for batch_index, batch in enumerate(bar):
                if batch_index >= limit:
                    break
                images, targets = self.prepare_batch(batch)
                with self._autocast():
                    logits = model(self._to_device(images)).float()
                outputs.append((logits if return_logits else logits.softmax(-1)).cpu())
                labels.append(torch.as_tensor(targets))
        if not outputs:  # torch.cat would fail with a message about tensors, not about the data
            raise InvalidArgumentError("the dataset to predict on is empty: there is nothing to score.")
        p, y = torch.cat(outputs), torch.cat(labels)
        if dist.is_distributed():  # each rank predicted every world_size-th sample
            p, y = dist.gather_sharded(p, len(data)), dist.gather_sharded(y, len(data))  # type: ignore[arg-type]
        return p.numpy().astype(np.float64), y.numpy().astype(np.int64)

    def evaluate(
        self, data: Dataset[Any], *, bootstrap: int = 0, model: nn.Module | None = None
    ) -> ClassificationReport:
        """Metrics on ``data`` (see :func:`brainvit_effnet.metrics.classification_report`) plus ``loss``.

        Args:
            data: A labelled dataset.
            bootstrap: Resamples for 95% intervals (``ci95``); over patients when every record of
                ``data`` names its patient.
            model: Evaluate this module instead of ``trainer.model`` (see :meth:`predict`).
        """
        self._check_data(data, "the evaluation data")
        probs, labels = self.predict(data, model=model)
        names = getattr(data, "classes", None) or getattr(self.model, "pretrained_cfg", {}).get("label_names")
        groups = _patient_groups(data)
        report = classification_report(
            labels, probs, class_names=list(names) if names else None, bootstrap=bootstrap, groups=groups
        )
        if bootstrap and groups is not None and report.get("ci_unit") == "group":
            report["ci_unit"] = "patient"
        report["loss"] = report["nll"]
        return report

    # -- helpers ----------------------------------------------------------------------------------
    @staticmethod
    def _targets(data: Dataset[Any]) -> list[int]:
        targets = getattr(data, "targets", None)
        if targets is None:
            raise InvalidArgumentError(
                "balanced_sampler needs a dataset with .targets (the label of every sample)."
            )
        return list(targets)

    def _to_device(self, images: Tensor) -> Tensor:
        images = images.to(self.device, non_blocking=True)
        return images.contiguous(memory_format=torch.channels_last) if self.config.channels_last else images

    def _bar(self, loader: DataLoader[Any], total: int, desc: str) -> Any:
        # An epoch's bar stays on screen (one line per epoch); evaluation bars go when done.
        leave = desc.startswith("epoch")
        return progress_bar(
            loader, progress=self.config.progress, enabled=dist.is_main(), total=total, desc=desc, leave=leave
        )

    def _max_steps_reached(self) -> bool:
        return self.config.max_steps is not None and self.progress.step >= self.config.max_steps

    def _apply_freeze(self, epoch: int) -> None:
        freeze = getattr(self.model, "freeze_backbone", None)
        if freeze is not None and self.config.freeze_backbone_epochs:
            freeze(epoch < self.config.freeze_backbone_epochs)

    def _make_ema(self, model: nn.Module) -> Any:
        if self.config.ema_decay is None:
            return None
        from timm.utils import ModelEmaV3

        return ModelEmaV3(
            model, decay=self.config.ema_decay, use_warmup=self.config.ema_warmup, device=self.device
        )

    def _track_best(self, logs: dict[str, Any]) -> bool:
        cfg, progress = self.config, self.progress
        value = logs.get(cfg.monitor)
        if value is None:  # no validation data: the last epoch is the best we know
            progress.best_epoch = logs["epoch"]
            return True
        better = progress.best is None or (
            value > progress.best if cfg.monitor_mode == "max" else value < progress.best
        )
        if better:
            progress.best, progress.best_epoch, progress.bad_epochs = float(value), logs["epoch"], 0
        else:
            progress.bad_epochs += 1
        return better

    def _log(self, logs: dict[str, Any]) -> None:
        _logger.info("epoch %s: %s", logs["epoch"], {k: v for k, v in logs.items() if k != "epoch"})
        if dist.is_main():
            with (self.output_dir / "log.jsonl").open("a", encoding="utf-8") as fh:
                # Strict JSON Lines (a diverged epoch's NaN loss is null), as every file we write.
                fh.write(dumps(logs, "log.jsonl", indent=None) + "\n")

    def _save(
        self, name: str, model: nn.Module, optimizer: Any, scheduler: Any, scaler: Any, ema: Any
    ) -> None:
        if not dist.is_main():
            return
        state = {
            "progress": {**self.progress.__dict__},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict(),
            "ema": ema.module.state_dict() if ema is not None else None,
            "loss_fn": self.loss_fn.state_dict(),
            "rng": capture_rng(),
            "config": self.config.to_dict(),
        }
        card = {
            "notes": f"Trainer checkpoint '{name}': epoch {self.progress.epoch}, step {self.progress.step}."
        }
        write_checkpoint(self.output_dir / "checkpoints" / name, model, state, model_card=card)

    @staticmethod
    def _epoch_of(checkpoint: Path) -> str:
        try:
            state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
            return f"epoch {state['progress']['epoch']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "epoch unknown"

    def _resume(self, folder: Path, optimizer: Any, scheduler: Any, scaler: Any, ema: Any) -> None:
        if not folder.is_dir():
            best = folder.parent / "best"
            hint = (
                f" {best} is intact (the best epoch so far, {self._epoch_of(best)}): resume from it "
                f"(--resume {best}) to continue from there."
                if folder.name == "last" and best.is_dir()
                else ""
            )
            raise CheckpointError(
                f"cannot resume: {folder} does not exist (expected <output_dir>/checkpoints/last).{hint}"
            )
        check_same_architecture(folder, self.model, self.model_args)
        load_weights(self.model, folder)
        state = load_state(folder)
        try:
            optimizer.load_state_dict(state["optimizer"])
            if scheduler is not None and state.get("scheduler") is not None:
                scheduler.load_state_dict(state["scheduler"])
            scaler.load_state_dict(state["scaler"])
            if ema is not None and state.get("ema") is not None:
                ema.module.load_state_dict(state["ema"])
            self.loss_fn.load_state_dict(state.get("loss_fn") or {})
        except (KeyError, ValueError, RuntimeError) as e:
            raise CheckpointError(
                f"cannot resume from {folder}: its optimiser/scheduler state does not fit ({e})."
            ) from e
        self.progress = _Progress(**state["progress"])
        restore_rng(state["rng"])
        _logger.info(
            "Resumed from %s after epoch %d (step %d).", folder, self.progress.epoch, self.progress.step
        )

    @contextlib.contextmanager
    def _signal_guard(self) -> Iterator[None]:
        """SIGINT/SIGTERM finish the current batch, save a resumable checkpoint and return."""

        def handler(signum: int, _frame: Any) -> None:
            if self.stop_requested:  # a second signal: give up immediately
                raise InterruptedAgain(signum, str(self.output_dir))
            self.stop_requested, self._interrupted_by = True, signum

        try:
            previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread: signals cannot be handled here
            yield
            return
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
