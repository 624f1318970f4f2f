"""Gradient-weighted class activation maps (Grad-CAM, Grad-CAM++), batched and torch-only.

The design follows pytorch-grad-cam: a base class captures the activations of one or more target
layers with forward hooks, takes the gradient of the target scores with respect to them, and lets a
subclass turn activations and gradients into one weight per channel
(:meth:`BaseCAM.get_cam_weights`). The map is ``ReLU(sum_k w_k A_k)``, upsampled to the input size
and min-max normalised per sample.

Only the generic model interface is used, so this works on any ``nn.Module`` that maps images
``(B, C, H, W)`` to logits ``(B, num_classes)``: the brainvit-effnet models (default layers from
``model.cam_target_layers()``), plain timm CNNs (default layer: the last ``model.feature_info``
entry), or any model with explicit ``target_layers``.

Gradients are taken with ``torch.autograd.grad`` with respect to the captured activations only, so
no ``.grad`` is ever accumulated on the model's parameters and no tensor or backward hook is needed.
The model runs in eval mode during the call; its train/eval flags are restored afterwards.

Examples:
    >>> import torch, brainvit_effnet as bve
    >>> from brainvit_effnet.explain.cam import GradCAM
    >>> model = bve.create_model("effnet_test_tf", num_classes=3)
    >>> x = torch.randn(2, 3, 64, 64)
    >>> with GradCAM(model) as cam:
    ...     maps = cam(x, targets=[0, 2])
    >>> maps.shape
    torch.Size([2, 64, 64])
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeAlias

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from .._checks import is_int
from .._tensors import check_image_batch, eval_mode
from ..errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "BaseCAM",
    "CamResult",
    "ClassTarget",
    "GradCAM",
    "GradCAMPlusPlus",
    "ReshapeTransform",
    "Target",
    "Targets",
    "TokenGradCAM",
    "check_images",
    "default_target_layers",
    "eval_mode",
    "minmax_normalize",
    "token_gradcam",
]

logger = logging.getLogger(__name__)

#: A target: maps one sample's model output ``(C,)`` to a scalar score to explain.
Target: TypeAlias = Callable[[Tensor], Tensor]
#: What ``targets`` accepts: ``None`` (predicted class), one class index for every sample, one
#: callable for every sample, or one class index / callable per sample (a sequence or an integer
#: tensor of shape ``(B,)``).
Targets: TypeAlias = "int | Target | Sequence[int | Target] | Tensor | None"
#: Turns a target layer's output into a ``(B, K, h, w)`` map (e.g. ``model.reshape_tokens``).
ReshapeTransform: TypeAlias = Callable[[Tensor], Tensor]


class ClassTarget:
    """Score of one class: the logit ``output[..., index]`` (pytorch-grad-cam's ClassifierOutputTarget).

    Args:
        index: Class index, ``0 <= index < num_classes``.

    Shapes:
        ``(C,) -> ()`` for one sample's output; ``(B, C) -> (B,)`` also works.

    Examples:
        >>> ClassTarget(1)(torch.tensor([0.5, 2.0, -1.0]))
        tensor(2.)
    """

    def __init__(self, index: int) -> None:
        if not is_int(index):
            raise InvalidTypeError(
                f"ClassTarget expects an integer class index; got {type(index).__name__} ({index!r}). "
                "Pass e.g. ClassTarget(int(label))."
            )
        if index < 0:
            raise InvalidArgumentError(
                f"class index must be >= 0; got {index}. Use the class's position in the model output."
            )
        self.index = index

    def __call__(self, output: Tensor) -> Tensor:
        if output.shape[-1] <= self.index:
            raise InvalidArgumentError(
                f"target class {self.index} is out of range for a model with {output.shape[-1]} outputs; "
                f"use a class index in 0..{output.shape[-1] - 1}."
            )
        return output[..., self.index]

    def __repr__(self) -> str:
        return f"ClassTarget({self.index})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClassTarget) and other.index == self.index

    def __hash__(self) -> int:
        return hash((ClassTarget, self.index))


@dataclass(frozen=True)
class CamResult:
    """What one explanation produced.

    Attributes:
        maps: Class activation maps ``(B, H, W)`` in ``[0, 1]`` at the input size.
        logits: The model output ``(B, C)`` of the explained forward (detached).
        targets: The target of each sample (a :class:`ClassTarget` for class indices).
    """

    maps: Tensor
    logits: Tensor
    targets: tuple[Target, ...]

    @property
    def target_indices(self) -> Tensor:
        """Class index of each sample's target ``(B,)``; ``-1`` where the target is a custom callable."""
        return torch.tensor(
            [t.index if isinstance(t, ClassTarget) else -1 for t in self.targets],
            dtype=torch.long,
            device=self.logits.device,
        )


# -- helpers shared with the attention explainers (eval_mode lives in brainvit_effnet._tensors) ----
def check_images(x: object, what: str = "x") -> Tensor:
    """Validate a floating-point image batch ``(B, C, H, W)`` and return it.

    Raises:
        TypeError: ``x`` is not a floating-point tensor.
        ValueError: ``x`` is not 4-D or has an empty dimension.
    """
    x = check_image_batch(x, what)
    if x.numel() == 0:
        raise InvalidArgumentError(f"{what} must not be empty; got shape {tuple(x.shape)}.")
    if not x.is_floating_point():
        raise InvalidTypeError(
            f"{what} must be a floating-point image batch; got dtype {x.dtype}. Convert with x.float() "
            "and normalise it as the model expects."
        )
    return x


def minmax_normalize(maps: Tensor, eps: float = 1e-12) -> Tensor:
    """Scale each sample's map to ``[0, 1]``: ``(m - min) / (max - min)``.

    A constant map (all zero, or flat) has nothing to localise and becomes all zero, as in
    pytorch-grad-cam.

    Args:
        maps: Maps ``(B, ...)``; every dimension after the first is normalised together.
        eps: Ranges at or below this are treated as flat.

    Returns:
        Maps of the same shape in ``[0, 1]``.

    Examples:
        >>> minmax_normalize(torch.tensor([[[1.0, 3.0]], [[0.0, 0.0]]]))
        tensor([[[0., 1.]],
        <BLANKLINE>
                [[0., 0.]]])
    """
    flat = maps.reshape(maps.shape[0], -1)
    low = flat.amin(dim=1, keepdim=True)
    span = flat.amax(dim=1, keepdim=True) - low
    flat_ok = span > eps
    out = torch.where(flat_ok, (flat - low) / torch.where(flat_ok, span, torch.ones_like(span)), 0.0)
    return out.reshape(maps.shape)


def default_target_layers(model: nn.Module) -> list[nn.Module]:
    """Grad-CAM layers to use when none are given.

    ``model.cam_target_layers()`` where the model offers it (brainvit-effnet models), else the
    module named by the last ``model.feature_info`` entry (timm models: the final feature stage).

    Raises:
        ValueError: The model offers neither; pass ``target_layers`` explicitly.
    """
    seam = getattr(model, "cam_target_layers", None)
    if callable(seam):
        layers = list(seam())
        logger.debug("Grad-CAM target layers from %s.cam_target_layers()", type(model).__name__)
        return layers
    info = getattr(model, "feature_info", None)
    name: str | None = None
    if isinstance(info, Sequence) and len(info) > 0 and isinstance(info[-1], dict):
        name = info[-1].get("module")
    elif info is not None and callable(getattr(info, "module_name", None)):  # timm FeatureInfo
        name = info.module_name(-1)
    if isinstance(name, str) and name:
        try:
            layer = model.get_submodule(name)
        except AttributeError as err:
            raise InvalidArgumentError(
                f"{type(model).__name__}.feature_info names the module {name!r}, which the model does not "
                "have; pass target_layers=[...] explicitly (e.g. the last convolutional stage)."
            ) from err
        logger.debug("Grad-CAM target layer from feature_info: %s", name)
        return [layer]
    raise InvalidArgumentError(
        f"cannot choose Grad-CAM target layers for {type(model).__name__}: it has neither "
        "cam_target_layers() nor timm's feature_info. Pass target_layers=[module] explicitly, e.g. the "
        "last convolutional block whose output keeps the (B, C, h, w) spatial layout."
    )


def _compute_dtype(t: Tensor) -> Tensor:
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


# -- the CAM base class ---------------------------------------------------------------------------
class BaseCAM:
    """Captures target-layer activations and gradients; subclasses choose the channel weights.

    Use as a context manager (hooks live for the block and are removed on exit, also on
    exceptions) or call directly (hooks are registered and removed within the call).

    Args:
        model: Any module mapping ``(B, C, H, W)`` images to ``(B, num_classes)`` logits.
        target_layers: Layers whose outputs are explained; one module or a sequence of modules of
            ``model``. Defaults to :func:`default_target_layers`. Several layers are averaged.
        reshape_transform: Turns a layer output into ``(B, K, h, w)`` (e.g. ``model.reshape_tokens``
            for ``(B, T, D)`` tokens); applied to activations and gradients alike.

    Shapes:
        ``__call__(x (B, C, H, W), targets) -> (B, H, W)`` in ``[0, 1]``.

    Examples:
        >>> with GradCAM(model) as cam:
        ...     result = cam.explain(x)  # CamResult(maps, logits, targets)
    """

    def __init__(
        self,
        model: nn.Module,
        target_layers: nn.Module | Sequence[nn.Module] | None = None,
        reshape_transform: ReshapeTransform | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise InvalidTypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
        if target_layers is None:
            layers = default_target_layers(model)
        elif isinstance(target_layers, nn.Module):
            layers = [target_layers]
        else:
            layers = list(target_layers)
        if not layers:
            raise InvalidArgumentError("target_layers is empty; pass at least one module of the model.")
        for layer in layers:
            if not isinstance(layer, nn.Module):
                raise InvalidTypeError(
                    f"target_layers must be modules of the model; got {type(layer).__name__}. "
                    "Pass e.g. [model.backbone.bn2]."
                )
        owned = {id(m) for m in model.modules()}
        for layer in layers:
            if id(layer) not in owned:
                raise InvalidArgumentError(
                    f"target layer {type(layer).__name__} is not a submodule of {type(model).__name__}; "
                    "its hooks would never fire. Pass modules reached by model(x)."
                )
        if reshape_transform is not None and not callable(reshape_transform):
            raise InvalidTypeError(
                f"reshape_transform must be callable (Tensor -> (B, K, h, w) Tensor) or None; "
                f"got {type(reshape_transform).__name__}."
            )
        self.model = model
        self.target_layers: list[nn.Module] = layers
        self.reshape_transform = reshape_transform
        #: Model output ``(B, C)`` of the last explained forward (detached), ``None`` before.
        self.last_output: Tensor | None = None
        self._handles: list[RemovableHandle] = []
        self._activations: list[list[Tensor]] = [[] for _ in layers]
        self._capturing = False

    # -- the one method subclasses override ---------------------------------------------------
    def get_cam_weights(self, activations: Tensor, gradients: Tensor) -> Tensor:
        """Channel weights ``(B, K)`` from activations and gradients ``(B, K, h, w)``."""
        raise NotImplementedError

    # -- hooks --------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Whether the forward hooks are registered."""
        return bool(self._handles)

    def _register(self) -> None:
        if self._handles:
            raise RuntimeError(
                f"{type(self).__name__} hooks are already registered; do not nest `with cam:` blocks."
            )
        try:
            for i, layer in enumerate(self.target_layers):
                self._handles.append(layer.register_forward_hook(self._make_hook(i)))
        except BaseException:
            self._remove()
            raise

    def _remove(self) -> None:
        handles, self._handles = self._handles, []
        for handle in handles:
            handle.remove()
        self._clear()

    def _clear(self) -> None:
        self._capturing = False
        self._activations = [[] for _ in self.target_layers]

    def _make_hook(self, i: int) -> Callable[[nn.Module, Any, Any], None]:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if not self._capturing:
                return
            if not isinstance(output, Tensor):
                raise InvalidTypeError(
                    f"Grad-CAM target layer {type(module).__name__} returned {type(output).__name__}, "
                    "expected a Tensor; choose a layer that outputs one tensor."
                )
            self._activations[i].append(output)

        return hook

    def __enter__(self) -> BaseCAM:
        self._register()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._remove()

    def release(self) -> None:
        """Remove the hooks now (what leaving the ``with`` block does)."""
        self._remove()

    # -- explaining ---------------------------------------------------------------------------
    def __call__(self, x: Tensor, targets: Targets = None) -> Tensor:
        """Class activation maps ``(B, H, W)`` in ``[0, 1]`` for images ``x (B, C, H, W)``.

        ``targets``: ``None`` explains the predicted class of each sample; an ``int`` the same class
        for all; a sequence (or integer tensor ``(B,)``) one class index or :data:`Target` callable
        per sample. The model output is kept in :attr:`last_output`.
        """
        return self.explain(x, targets).maps

    def explain(self, x: Tensor, targets: Targets = None) -> CamResult:
        """Like :meth:`__call__`, returning maps, logits and the resolved targets together."""
        x = check_images(x)
        owns_hooks = not self._handles
        if owns_hooks:
            self._register()
        try:
            with eval_mode(self.model), torch.inference_mode(False), torch.enable_grad():
                # Gradients reach the target layers through a graph rooted at a detached copy of
                # the input, so frozen models work and the parameters' flags are never touched.
                inp = x.detach().clone() if x.is_inference() else x.detach()
                inp.requires_grad_(True)
                self._clear()
                self._capturing = True
                output = self.model(inp)
                self._capturing = False
                logits = self._check_output(output, x.shape[0])
                resolved = self._resolve_targets(targets, logits)
                activations = [a for acts in self._activations for a in acts]
                if not activations:
                    raise InvalidArgumentError(
                        f"no target layer of {type(self).__name__} ran during model(x); pass layers "
                        "that the model's forward uses."
                    )
                score = self._score(logits, resolved)
                grads = self._gradients(score, activations)
                maps = self._maps(activations, grads, (x.shape[-2], x.shape[-1]))
        finally:
            if owns_hooks:
                self._remove()
            else:
                self._clear()
        logits = logits.detach()
        self.last_output = logits
        return CamResult(maps=maps.detach(), logits=logits, targets=tuple(resolved))

    def _check_output(self, output: object, batch: int) -> Tensor:
        if not isinstance(output, Tensor) or output.ndim != 2 or output.shape[0] != batch:
            got = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
            raise InvalidArgumentError(
                f"Grad-CAM needs a model returning logits of shape (B={batch}, num_classes); got {got}. "
                "Wrap the model so that forward returns one (B, C) tensor."
            )
        return output

    @staticmethod
    def _resolve_targets(targets: Targets, logits: Tensor) -> list[Target]:
        batch, num_classes = logits.shape
        if targets is None:
            return [ClassTarget(int(i)) for i in logits.detach().argmax(dim=1).tolist()]
        items: list[Any]
        if isinstance(targets, bool):
            raise InvalidTypeError(f"targets must be class indices or callables; got a bool ({targets}).")
        if isinstance(targets, int):
            items = [targets] * batch
        elif isinstance(targets, Tensor):
            if targets.is_floating_point() or targets.is_complex() or targets.ndim > 1:
                raise InvalidTypeError(
                    f"a targets tensor must hold integer class indices of shape (B,); got dtype "
                    f"{targets.dtype} and shape {tuple(targets.shape)}. Use e.g. labels.long()."
                )
            items = [int(targets)] * batch if targets.ndim == 0 else [int(t) for t in targets.tolist()]
        elif callable(targets):
            items = [targets] * batch
        elif isinstance(targets, Sequence) and not isinstance(targets, str | bytes):
            items = list(targets)
        else:
            raise InvalidTypeError(
                f"targets must be None, an int, a callable, or a sequence of ints/callables (one per "
                f"sample); got {type(targets).__name__}."
            )
        if len(items) != batch:
            raise InvalidArgumentError(
                f"got {len(items)} targets for a batch of {batch} images; pass one per sample, a single "
                "int for all, or None for the predicted classes."
            )
        resolved: list[Target] = []
        for item in items:
            if isinstance(item, bool):
                raise InvalidTypeError(f"targets must be class indices or callables; got a bool ({item}).")
            if isinstance(item, int):
                if not 0 <= item < num_classes:
                    raise InvalidArgumentError(
                        f"target class {item} is out of range for a model with {num_classes} outputs; "
                        f"use a class index in 0..{num_classes - 1}."
                    )
                resolved.append(ClassTarget(item))
            elif isinstance(item, ClassTarget):
                if item.index >= num_classes:
                    raise InvalidArgumentError(
                        f"target class {item.index} is out of range for a model with {num_classes} "
                        f"outputs; use a class index in 0..{num_classes - 1}."
                    )
                resolved.append(item)
            elif callable(item):
                resolved.append(item)
            else:
                raise InvalidTypeError(
                    f"each target must be an int class index or a callable (output row -> scalar); got "
                    f"{type(item).__name__}."
                )
        return resolved

    @staticmethod
    def _score(logits: Tensor, targets: list[Target]) -> Tensor:
        """Sum of every sample's target score (samples are independent in eval mode)."""
        indices = [t.index for t in targets if isinstance(t, ClassTarget)]
        if len(indices) == len(targets):  # all class indices: one gather instead of a Python loop
            index = torch.tensor(indices, device=logits.device)
            return logits.gather(1, index[:, None]).sum()
        scores = []
        for i, target in enumerate(targets):
            s = target(logits[i])
            if not isinstance(s, Tensor) or s.numel() != 1:
                raise InvalidArgumentError(
                    f"target {target!r} must return a scalar tensor for one sample's output (C,); got "
                    f"{tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__}."
                )
            scores.append(s.reshape(()))
        return torch.stack(scores).sum()

    def _gradients(self, score: Tensor, activations: list[Tensor]) -> list[Tensor]:
        if not score.requires_grad:
            raise InvalidArgumentError(
                "the target score does not depend on anything that requires gradients; does the model "
                "detach its input or run under torch.no_grad() inside forward?"
            )
        grads = torch.autograd.grad(score, activations, allow_unused=True)
        for act, grad in zip(activations, grads, strict=True):
            if grad is None:
                raise InvalidArgumentError(
                    f"a target layer output of shape {tuple(act.shape)} does not influence the model output; "
                    "choose layers on the path from the input to the logits."
                )
        return [g for g in grads if g is not None]

    def _maps(self, activations: list[Tensor], grads: list[Tensor], size: tuple[int, int]) -> Tensor:
        per_layer = []
        for act, grad in zip(activations, grads, strict=True):
            act, grad = act.detach(), grad.detach()
            if self.reshape_transform is not None:
                act, grad = self.reshape_transform(act), self.reshape_transform(grad)
            if act.ndim != 4:
                raise InvalidArgumentError(
                    f"target layer output must be a (B, K, h, w) map; got shape {tuple(act.shape)}. For "
                    "transformer tokens (B, T, D) pass reshape_transform=model.reshape_tokens."
                )
            act, grad = _compute_dtype(act), _compute_dtype(grad)
            weights = self.get_cam_weights(act, grad)
            cam = F.relu(torch.einsum("bk,bkhw->bhw", weights, act))
            cam = F.interpolate(cam[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
            per_layer.append(minmax_normalize(cam))
        if len(per_layer) == 1:
            return per_layer[0]
        return minmax_normalize(torch.stack(per_layer).mean(dim=0))


class GradCAM(BaseCAM):
    """Grad-CAM (Selvaraju et al., 2017): channel weights are the spatially averaged gradients.

    ``w_k = mean_ij dS/dA_k[i, j]``; map ``= ReLU(sum_k w_k A_k)``. See :class:`BaseCAM` for the
    arguments.

    Examples:
        >>> with GradCAM(model) as cam:
        ...     maps = cam(x, targets=1)  # (B, H, W) in [0, 1]
    """

    def get_cam_weights(self, activations: Tensor, gradients: Tensor) -> Tensor:
        return gradients.mean(dim=(2, 3))


class GradCAMPlusPlus(BaseCAM):
    """Grad-CAM++ (Chattopadhay et al., 2018), with pytorch-grad-cam's closed-form weights.

    ``alpha = g^2 / (2 g^2 + sum_ij A * g^3)`` (zero where ``g == 0``),
    ``w_k = sum_ij alpha * ReLU(g)``. See :class:`BaseCAM` for the arguments.

    Examples:
        >>> with GradCAMPlusPlus(model) as cam:
        ...     maps = cam(x)
    """

    eps: float = 1e-6  # pytorch-grad-cam's value: the maps then agree with the reference

    def get_cam_weights(self, activations: Tensor, gradients: Tensor) -> Tensor:
        g2 = gradients.pow(2)
        g3 = g2 * gradients
        sum_act = activations.sum(dim=(2, 3), keepdim=True)
        alpha = g2 / (2 * g2 + sum_act * g3 + self.eps)
        alpha = torch.where(gradients != 0, alpha, torch.zeros_like(alpha))
        return (alpha * F.relu(gradients)).sum(dim=(2, 3))


class TokenGradCAM(GradCAM):
    """Grad-CAM on transformer tokens: ``model.token_cam_target_layers()`` + ``model.reshape_tokens``.

    Args:
        model: A transformer variant (e.g. ``effnet_b2_tf``) offering ``token_cam_target_layers()``
            and ``reshape_tokens(tokens, grid_size=None)``.

    Raises:
        TypeError: The model has no token seams (a CNN); use :class:`GradCAM`.

    Examples:
        >>> with TokenGradCAM(model) as cam:
        ...     maps = cam(x)  # (B, H, W)
    """

    def __init__(self, model: nn.Module) -> None:
        layers = getattr(model, "token_cam_target_layers", None)
        reshape = getattr(model, "reshape_tokens", None)
        if not callable(layers) or not callable(reshape):
            raise InvalidTypeError(
                f"token Grad-CAM needs a transformer variant with token_cam_target_layers() and "
                f"reshape_tokens(), e.g. effnet_b2_tf; {type(model).__name__} has no tokens. Use GradCAM "
                "for CNNs."
            )
        super().__init__(model, target_layers=list(layers()), reshape_transform=reshape)


def token_gradcam(model: nn.Module, x: Tensor, targets: Targets = None) -> Tensor:
    """One-call token Grad-CAM ``(B, H, W)`` in ``[0, 1]`` (see :class:`TokenGradCAM`).

    Examples:
        >>> maps = token_gradcam(model, torch.randn(2, 3, 64, 64), targets=0)
    """
    return TokenGradCAM(model)(x, targets)
