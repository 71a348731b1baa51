"""asv benchmarks of xarray-microct: one module per topic (see ../asv.conf.json)."""
