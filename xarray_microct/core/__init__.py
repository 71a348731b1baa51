"""Core: the volume model, units, provenance, the operation registry, chunk helpers."""
