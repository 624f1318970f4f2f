"""Every example runs offline, and prints what its docs page says it prints.

A page that includes an example (``--8<-- "examples/NAME.py"``) and shows a "What it prints"
``text`` block is compared line by line with the example's real output. Numbers, temporary paths
and ``...`` in the docs are wildcards (a tiny random model's accuracies are noise, not a contract);
the words, the order and the number of lines are the contract, so a changed message, a dropped
line or a renamed file fails here before a reader notices.
"""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py"))

_INCLUDE = re.compile(r'--8<-- "examples/([\w.]+\.py)"')
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)*(?:e[-+]?\d+)?")  # dotted runs (UIDs) are one number
_TMP = re.compile(r"/tmp/\S*?(?=[\s'\",\]]|$)")


def _printed_block(page: Path) -> list[str] | None:
    """The first ``text`` block after a "What it prints" line of ``page``, or None."""
    lines = page.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if "What it prints" in line), None)
    if start is None:
        return None
    fence = next((i for i in range(start, len(lines)) if lines[i].strip() == "```text"), None)
    if fence is None:
        return None
    indent = lines[fence][: len(lines[fence]) - len(lines[fence].lstrip())]
    end = next(i for i in range(fence + 1, len(lines)) if lines[i].strip() == "```")
    return [line.removeprefix(indent) for line in lines[fence + 1 : end]]


def _documented_output(example: str) -> tuple[Path, list[str]] | None:
    for page in sorted((ROOT / "docs").rglob("*.md")):
        if example in _INCLUDE.findall(page.read_text()):
            block = _printed_block(page)
            if block is not None:
                return page, block
    return None


def _mask(line: str) -> str:
    return _NUMBER.sub("#", _TMP.sub("<tmp>", line.rstrip()))


def _pattern(doc_line: str) -> re.Pattern[str]:
    """A docs line as a regex: ``...`` (the docs' elision) matches anything."""
    parts = _mask(doc_line).split("...")
    return re.compile(".*".join(re.escape(p) for p in parts))


def mismatches(documented: list[str], printed: list[str]) -> list[str]:
    """Where ``printed`` departs from ``documented``, as readable lines (empty: they agree).

    A docs line that is only ``...`` stands for any number of printed lines (an abridged block).
    """
    if any(line.strip() == "..." for line in documented):
        return _abridged_mismatches(documented, printed)
    problems = []
    if len(documented) != len(printed):
        problems.append(f"the docs show {len(documented)} lines, the example printed {len(printed)}")
    for n, (doc, out) in enumerate(zip(documented, printed, strict=False), 1):
        if not _pattern(doc).fullmatch(_mask(out)):
            problems.append(f"line {n}: docs {doc!r} but printed {out!r}")
    return problems


def _abridged_mismatches(documented: list[str], printed: list[str]) -> list[str]:
    """:func:`mismatches` for a block with elided lines: the shown lines must appear in order,
    consecutive ones on consecutive printed lines, and the block's ends must be the output's."""
    pieces: list[str] = []
    for line in documented:
        pieces.append(r"(?:[^\n]*\n)*?" if line.strip() == "..." else _pattern(line).pattern + r"\n")
    text = "".join(_mask(line) + "\n" for line in printed)
    if re.fullmatch("".join(pieces), text):
        return []
    # Say which shown line is the first that cannot be found after the ones before it.
    position = 0
    for n, line in enumerate(documented, 1):
        if line.strip() == "...":
            continue
        found = next(
            (i for i in range(position, len(printed)) if _pattern(line).fullmatch(_mask(printed[i]))), None
        )
        if found is None:
            return [f"line {n} of the docs, {line!r}, is not printed (in this order)"]
        position = found + 1
    return ["the docs block's lines appear, but not with the spacing or ends it shows"]


def test_mismatches_ignores_numbers_and_paths_but_not_words() -> None:
    doc = ["test accuracy 0.333 on 21 images", "written: /tmp/abc/report.json", "series=1.2.3..."]
    assert (
        mismatches(doc, ["test accuracy 0.5 on 18 images", "written: /tmp/xyz/report.json", "series=9.9"])
        == []
    )
    assert mismatches(doc, ["test accuracy 0.5 on 18 slices", *doc[1:]])  # a changed word
    assert mismatches(doc, doc[:2])  # a dropped line
    assert mismatches(doc, [*doc, "one more line"])  # an extra line
    abridged = ["...", "table 1", "...", "total 3"]
    assert mismatches(abridged, ["[1/2] trained", "[2/2] trained", "table 9", "row", "row", "total 7"]) == []
    assert mismatches(abridged, ["table 1", "total 3", "after"])  # the block's last line must be the last
    assert mismatches(abridged, ["total 3", "table 1"])  # out of order


@pytest.mark.parametrize("example", EXAMPLES)
def test_examples_run_offline_and_print_what_their_docs_show(
    example: str, capsys: pytest.CaptureFixture[str]
) -> None:
    runpy.run_path(str(ROOT / "examples" / example), run_name="__main__")
    printed = capsys.readouterr().out.splitlines()
    assert printed, f"{example} printed nothing"
    documented = _documented_output(example)
    if documented is None:  # no page shows its output: running offline is the whole contract
        return
    page, block = documented
    problems = mismatches(block, printed)
    assert not problems, f"{page.relative_to(ROOT)} no longer shows what {example} prints:\n" + "\n".join(
        problems
    )
