"""Pure operations by topic, each registered as a verb of the .microct accessor."""

from xarray_microct.lazy import modules_on_first_use

# its modules are attributes, imported on first use (mct.ops.filters.gaussian_array): a
# process imports only the operations it runs (see _VERB_MODULES in the package)
__getattr__, __dir__ = modules_on_first_use(__name__, __path__)
