"""Core: the volume model, units, provenance, the operation registry, chunk helpers."""

from xarray_microct.lazy import modules_on_first_use

# its modules are attributes, imported on first use (mct.core.stats)
__getattr__, __dir__ = modules_on_first_use(__name__, __path__)
