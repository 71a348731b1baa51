"""Checks, from outside the source tree, that Python imports the installed wheel.

Usage: python installed-check.py VENV
"""

import sys
from importlib import metadata, resources
from pathlib import Path

import xarray_microct

venv = Path(sys.argv[1]).resolve()
location = Path(xarray_microct.__file__).resolve()
if venv not in location.parents:
    sys.exit(f"xarray_microct was imported from {location}, not from the venv {venv}")
if not resources.files("xarray_microct").joinpath("py.typed").is_file():
    sys.exit("the installed package has no py.typed marker")
dist = metadata.distribution("xarray-microct")
licenses = [f for f in dist.files or [] if f.name == "LICENSE"]
if not licenses:
    sys.exit("the wheel carries no LICENSE file")
print(f"installed xarray-microct {dist.version} at {location.parent} (py.typed, LICENSE)")
