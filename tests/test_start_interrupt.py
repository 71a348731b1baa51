"""Ctrl-C while ``microct`` is still importing (its first seconds) ends it as Ctrl-C does
later: one line and exit status 130, not a traceback of xarray's imports.

Not timing-dependent: a ``sitecustomize`` put first on the child's path sends the child
SIGINT from inside its import of xarray (the slow part of the start), and a
``KeyboardInterrupt`` there is what Ctrl-C gives.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import xarray_microct
from xarray_microct.starting import STARTING_MESSAGE

ROOT = Path(xarray_microct.__file__).resolve().parents[1]

# SIGINT to itself as the child imports xarray (xarray_microct's __init__ does, first);
# Python's own Ctrl-C handler first, as in a terminal (a background job ignores SIGINT)
HOOK = textwrap.dedent(
    """
    import os, signal, sys

    signal.signal(signal.SIGINT, signal.default_int_handler)

    class InterruptOnImport:
        def find_spec(self, name, path=None, target=None):
            if name == os.environ["INTERRUPT_ON_IMPORT"]:
                sys.meta_path.remove(self)
                os.kill(os.getpid(), signal.SIGINT)
            return None

    if os.environ.get("INTERRUPT_ON_IMPORT"):
        sys.meta_path.insert(0, InterruptOnImport())
    """
)

# what pip writes as the `microct` console script
CONSOLE_SCRIPT = textwrap.dedent(
    """
    import re
    import sys
    from xarray_microct.cli import main
    if __name__ == '__main__':
        sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
        sys.exit(main())
    """
)


def _run(tmp_path: Path, command: list[str], module: str) -> subprocess.CompletedProcess:
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(HOOK)
    path = [str(hook), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "INTERRUPT_ON_IMPORT": module}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "bin" / "microct"
    path.parent.mkdir()
    path.write_text(CONSOLE_SCRIPT)
    return path


def _run_args(tmp_path: Path) -> list[str]:
    return ["run", "steps.yaml", str(tmp_path / "scan.zarr"), str(tmp_path / "out.zarr")]


@pytest.mark.parametrize("how", ["console script", "python -m"])
def test_ctrl_c_while_importing_prints_one_line_and_exits_130(
    tmp_path: Path, script: Path, how: str
) -> None:
    # was: a traceback through xarray's and pandas' imports, killed by SIGINT
    command = (
        [sys.executable, str(script)]
        if how == "console script"
        else [sys.executable, "-m", "xarray_microct"]
    )
    done = _run(tmp_path, [*command, *_run_args(tmp_path)], "xarray")
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == STARTING_MESSAGE
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "hook"]  # nothing written


def test_ctrl_c_while_the_command_imports_its_own_modules(tmp_path: Path, script: Path) -> None:
    # after the package, before main(): the command's modules (the cluster helpers)
    done = _run(
        tmp_path, [sys.executable, str(script), *_run_args(tmp_path)], "xarray_microct.cluster"
    )
    assert (done.returncode, done.stderr.strip()) == (130, STARTING_MESSAGE)


def test_once_started_ctrl_c_is_python_s_again(tmp_path: Path, script: Path) -> None:
    """The command's own handling takes over (KeyboardInterrupt, then its usual line):
    here a SIGINT as the runner is imported, within main()."""
    done = _run(
        tmp_path, [sys.executable, str(script), *_run_args(tmp_path)], "xarray_microct.runner"
    )
    assert done.returncode == 130, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("microct: interrupted (Ctrl-C)")
    assert last != STARTING_MESSAGE


def test_a_program_importing_the_package_keeps_its_ctrl_c(tmp_path: Path) -> None:
    code = (
        "import signal, xarray_microct\n"
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    )
    done = _run(tmp_path, [sys.executable, "-c", code], "")
    assert (done.returncode, done.stdout.strip()) == (0, "True"), done.stderr
    program = tmp_path / "analysis.py"
    program.write_text(code)
    done = _run(tmp_path, [sys.executable, str(program)], "xarray")
    assert done.returncode != 0
    assert "KeyboardInterrupt" in done.stderr  # Python's own, as before
