"""A package's modules as its attributes, each imported on first use."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Iterable
from typing import Any


def modules_on_first_use(
    package: str, path: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package`` (its ``__name__`` and
    ``__path__``): ``package.name`` imports the module ``name`` of the package when it is
    not imported yet, and ``dir(package)`` lists every module of it.

    The package's ``__init__`` then imports none of them, yet ``mct.ops.filters`` works
    after ``import xarray_microct`` as it does after ``import xarray_microct.ops.filters``.

    Examples
    --------
    >>> import xarray_microct.ops as ops
    >>> getattr_, dir_ = modules_on_first_use(ops.__name__, ops.__path__)
    >>> getattr_("intensity").__name__, "segment" in dir_()
    ('xarray_microct.ops.intensity', True)
    """
    modules = frozenset(info.name for info in pkgutil.iter_modules(path))

    def __getattr__(name: str) -> Any:
        if name in modules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *modules})

    return __getattr__, __dir__
