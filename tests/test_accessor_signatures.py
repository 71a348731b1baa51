"""The ``.microct`` methods carry their verb's real signature and annotations.

``help(vol.microct.gaussian)``, IDEs and the API reference read them: a verb's method
shows the verb's parameters (without the volume) and its return annotation, never the
accessor's ``self`` type nor ``Any``.
"""

from __future__ import annotations

import inspect

import pytest

import xarray_microct as mct
from xarray_microct.accessor import MicroCTArrayAccessor, MicroCTTreeAccessor

# verbs on tables (if any) are called as functions, not bound to the volume accessors
VERBS = sorted(n for n, op in mct.REGISTRY.items() if getattr(op, "takes", None) != "table")


@pytest.mark.parametrize("name", VERBS)
def test_array_method_has_the_verb_signature(name: str) -> None:
    op = mct.REGISTRY[name]
    verb = inspect.signature(op.func)
    method = inspect.signature(getattr(MicroCTArrayAccessor, name))
    expected = [
        p for p in list(verb.parameters.values())[1:] if p.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    assert list(method.parameters.values())[1:] == expected
    assert method.return_annotation == verb.return_annotation
    annotations = getattr(MicroCTArrayAccessor, name).__annotations__
    assert "self" not in annotations
    assert annotations["return"] == verb.return_annotation
    assert {k: v for k, v in annotations.items() if k != "return"} == {
        p.name: p.annotation for p in expected if p.annotation is not p.empty
    }


@pytest.mark.parametrize("name", VERBS)
def test_tree_method_adds_level_and_a_tree_return(name: str) -> None:
    op = mct.REGISTRY[name]
    method = inspect.signature(getattr(MicroCTTreeAccessor, name))
    assert list(method.parameters)[-1] == "level"
    returns = str(op.signature.return_annotation)
    if op.on_tree in ("map", "finest"):
        assert method.return_annotation == f"xr.DataTree | {returns}"
    else:
        assert method.return_annotation == op.signature.return_annotation


def test_viewing_methods_are_public_on_both_accessors() -> None:
    for cls in (MicroCTArrayAccessor, MicroCTTreeAccessor):
        for name in ("preview", "orthoslices", "overlay", "view3d", "save_report", "to_zarr"):
            assert callable(getattr(cls, name)), (cls.__name__, name)
