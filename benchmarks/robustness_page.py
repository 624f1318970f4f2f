"""Render the evidence records (``results/model_evidence/*.json``) as Markdown for docs/robustness.md.

One table per question, one row per model: does it look at the tumour (Grad-CAM at its layer, the
resolution cap, and the occlusion test per class), and does it hold up under the shifts other
sources bring (clean and shifted accuracy, the worst shift). The docs hook calls
:func:`render_robustness_page` at build time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def _load(folder: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def localisation_table(records: dict[str, dict[str, Any]]) -> str:
    rows = [
        "| model | layer (chosen on fold) | grid | pointing game | cap at that grid | energy inside | "
        "bn2 pointing game | >= 0.5 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in records.items():
        loc = r["localisation"]
        rows.append(
            f"| `{name}` | `{loc['layer']}` ({loc['chosen_on_fold']}) | {loc['grid'][0]}x{loc['grid'][1]} | "
            f"{loc['pointing_game']:.3f} | {loc['resolution_cap']:.3f} | {loc['energy_inside']:.3f} | "
            f"{loc['default_bn2']['pointing_game']:.3f} | {_mark(r['targets']['pointing_game>=0.5'])} |"
        )
    return "\n".join(rows) + "\n"


def layers_table(records: dict[str, dict[str, Any]]) -> str:
    """Every candidate layer on the validation fold: what the choice was made from."""
    out = []
    for name, r in records.items():
        layers = r["cam_layers_on_val"]["layers"]
        rows = [
            f"`{name}` on validation fold {r['val_fold']}:\n",
            "| layer | grid | pointing game | resolution cap | energy inside |",
            "|---|---|---|---|---|",
        ]
        rows += [
            f"| `{layer}` | {v['grid'][0]}x{v['grid'][1]} | {v['pointing_game']:.3f} | "
            f"{v['resolution_cap']:.3f} | {v['energy_inside']:.3f} |"
            for layer, v in layers.items()
        ]
        out.append("\n".join(rows) + "\n")
    return "\n".join(out)


def reliance_table(records: dict[str, dict[str, Any]]) -> str:
    rows = [
        "| model | class | n | as is | tumour hidden | control hidden |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in records.items():
        rel = r["tumour_reliance"]
        for cls, s in [*rel["per_class"].items(), ("all", rel["overall"])]:
            rows.append(
                f"| `{name}` | {cls} | {s['n']} | {s['clean']:.3f} | {s['tumour_hidden']:.3f} | "
                f"{s['random_hidden']:.3f} |"
            )
    return "\n".join(rows) + "\n"


def shift_table(records: dict[str, dict[str, Any]]) -> str:
    with_shifts = {n: r for n, r in records.items() if "shift_benchmark" in r}
    if not with_shifts:
        return "*No shift benchmark has been recorded yet.*\n"
    names = list(with_shifts)
    shifts = list(next(iter(with_shifts.values()))["shift_benchmark"]["shifts"])
    rows = ["| shift | severity 1 / 2 / 3 | " + " | ".join(f"`{n}`" for n in names) + " |"]
    rows.append("|---|---|" + "---|" * len(names))
    first = with_shifts[names[0]]["shift_benchmark"]["shifts"]
    for shift in shifts:
        levels = " / ".join(f"{v:g}" for v in first[shift]["levels"])
        cells = [
            " / ".join(f"{a:.3f}" for a in with_shifts[n]["shift_benchmark"]["shifts"][shift]["accuracy"])
            for n in names
        ]
        rows.append(f"| {shift} | {levels} | " + " | ".join(cells) + " |")
    for label, key in (("clean", "clean_accuracy"), ("mean under shift", "shift_mean_accuracy")):
        rows.append(
            f"| **{label}** | | "
            + " | ".join(f"**{with_shifts[n]['shift_benchmark'][key]:.3f}**" for n in names)
            + " |"
        )
    rows.append(
        "| **ratio (target >= 0.93)** | | "
        + " | ".join(f"**{with_shifts[n]['shift_benchmark']['ratio_shift_over_clean']:.3f}**" for n in names)
        + " |"
    )
    return "\n".join(rows) + "\n"


def render_robustness_page(results: Path = RESULTS) -> str:
    records = _load(results / "model_evidence")
    if not records:
        return "*No model has an evidence record yet (`benchmarks/results/model_evidence/` is empty).*\n"
    return (
        "### Does it look at the tumour? Grad-CAM\n\n"
        + localisation_table(records)
        + "\n#### How each layer was chosen\n\n"
        + layers_table(records)
        + "\n### Does it need the tumour? Occlusion\n\n"
        + reliance_table(records)
        + "\n### Does it hold up under shifts?\n\n"
        + shift_table(records)
    )


if __name__ == "__main__":
    print(render_robustness_page())
