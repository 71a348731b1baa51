"""Whole analysis chains (fiber bed, bead pack) built from the verbs.

Each chain is a module holding a function of the same name, and the module, called, runs
that function: ``pipelines.fibers(vol)`` is ``pipelines.fibers.fibers(vol)``. So the
function is reachable as the README writes it, and ``import
xarray_microct.pipelines.fibers`` still gives the module (no function hides it).

Examples
--------
>>> import inspect, xarray_microct as mct
>>> import xarray_microct.pipelines.beads as bead_module
>>> bead_module.__name__, mct.pipelines.beads is bead_module
('xarray_microct.pipelines.beads', True)
>>> inspect.signature(mct.pipelines.beads) == inspect.signature(bead_module.beads)
True
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types
from collections.abc import Callable
from typing import Any

from xarray_microct.lazy import modules_on_first_use

__all__ = ["beads", "fibers"]


class PipelineModule(types.ModuleType):
    """A pipeline module that, called, runs its function of the same name."""

    @property
    def pipeline(self) -> Callable[..., Any]:
        """The module's pipeline function (``fibers.fibers`` for ``fibers``)."""
        return getattr(self, self.__name__.rpartition(".")[2])

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self.pipeline)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.pipeline(*args, **kwargs)

    def __reduce__(self) -> tuple[Callable[[str], types.ModuleType], tuple[str]]:
        # pickled by name (as plain modules are), e.g. when sent to Dask workers
        return importlib.import_module, (self.__name__,)


class _PipelinePackage(types.ModuleType):
    """This package: each pipeline module becomes a :class:`PipelineModule` as its import
    sets it as an attribute here, however it is imported (on first use, through the
    package's ``__getattr__``: a bead run need not import the fiber stages)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in __all__ and isinstance(value, types.ModuleType):
            value.__class__ = PipelineModule
        super().__setattr__(name, value)


__getattr__, __dir__ = modules_on_first_use(__name__, __path__)
sys.modules[__name__].__class__ = _PipelinePackage
