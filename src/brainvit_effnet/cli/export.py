"""``brainvit-effnet export``: ONNX (checked with ONNX Runtime) or TorchScript, with parity on real images."""

from __future__ import annotations

import argparse

from .._outputs import check_output_file
from ..export import MIN_OPSET
from ..hub import from_pretrained
from ._common import MODEL_HELP, at_least

HELP = "export a saved model to ONNX (needs the [onnx] extra) or TorchScript"
EXAMPLE = "brainvit-effnet export runs/b0/model --format onnx --out b0.onnx"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dir", help=MODEL_HELP)
    p.add_argument("--format", choices=("onnx", "torchscript"), default="onnx", help="the export format")
    p.add_argument("--out", help="output file (default: model.onnx, or model.pt for torchscript)")
    p.add_argument(
        "--opset", type=at_least(MIN_OPSET), default=MIN_OPSET, help="ONNX opset (default: %(default)s)"
    )
    p.add_argument(
        "--no-verify", action="store_true", help="skip the comparison of the exported file with PyTorch"
    )
    p.add_argument(
        "--parity-images",
        type=at_least(0),
        default=16,
        help="report the max abs logit difference on this many real images of the bundled sample "
        "(0: skip; default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    from ..export import export_onnx, export_torchscript, parity_on_sample

    suffixes = (".pt", ".pth") if args.format == "torchscript" else (".onnx",)
    if args.out:
        check_output_file(args.out, suffixes=suffixes, what=f"the {args.format} export")
    model = from_pretrained(args.model_dir)
    verify = not args.no_verify
    if args.format == "torchscript":
        path = export_torchscript(model, args.out or "model.pt", verify=verify)
        checked = " (verified against PyTorch)"
    else:
        path = export_onnx(model, args.out or "model.onnx", opset=args.opset, verify=verify)
        checked = " (verified with ONNX Runtime)"
    print(f"Exported {args.model_dir} to {path}" + (checked if verify else ""))
    if verify and args.parity_images > 0:
        report = parity_on_sample(model, path, n_images=args.parity_images)
        print(
            f"Max abs logit difference on {report.n_images} real sample images (bundled Figshare sample): "
            f"{report.max_abs_diff:.3g} (mean {report.mean_abs_diff:.3g}, predicted class agrees on "
            f"{report.argmax_agreement:.0%})"
        )
    return 0
