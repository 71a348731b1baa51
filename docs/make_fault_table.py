"""Write the table of faults of ``docs/reliability.md`` from the fault-injection suite.

The cases are those of ``tests/faults.py``, which ``tests/test_faults.py`` runs: the
list in the documentation is the list that is tested. Run by the Sphinx build (see
``conf.py``), or by hand::

    python docs/make_fault_table.py docs/_generated/faults.md
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"


def _catalogue() -> list:
    sys.path.insert(0, str(TESTS))
    try:
        spec = importlib.util.spec_from_file_location("faults", TESTS / "faults.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["faults"] = module
        spec.loader.exec_module(module)
        return module.catalogue()
    finally:
        sys.path.remove(str(TESTS))


def fault_table() -> str:
    """The Markdown table: one section per group, one row per case."""
    faults = _catalogue()
    lines = [
        f"{len(faults)} cases, each run by `tests/test_faults.py` "
        "(`pytest tests/test_faults.py -k ID`).",
        "",
    ]
    groups = list(dict.fromkeys(f.group for f in faults))
    for group in groups:
        rows = [f for f in faults if f.group == group]
        lines += [
            f"### {group[0].upper()}{group[1:]} ({len(rows)})",
            "",
            "| # | case (test id) | what is done | what happens |",
            "| --- | --- | --- | --- |",
        ]
        for fault in rows:
            number = faults.index(fault) + 1
            case = f"`{fault.id}`" + (" (slow)" if fault.slow else "")
            cells = [str(number), case, fault.what, fault.outcome]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(fault_table(), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/_generated/faults.md"))
