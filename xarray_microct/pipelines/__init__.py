"""Whole analysis chains (fiber bed, bead pack) built from the verbs."""
