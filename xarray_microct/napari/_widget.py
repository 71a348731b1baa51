"""The dock widget: run a verb or a built-in pipeline on the selected layer, lazily."""

import ast
from typing import Any

from xarray_microct.core.registry import REGISTRY
from xarray_microct.napari._layers import PIPELINES, LayerData, layer_volume, run_on_volume


def parse_parameters(text: str) -> dict[str, Any]:
    """Keyword arguments from text such as ``sigma="2 um", method="otsu"`` (literals only).

    Examples
    --------
    >>> parse_parameters("sigma='2 um', levels=3")
    {'sigma': '2 um', 'levels': 3}
    >>> parse_parameters("")
    {}
    """
    if not text.strip():
        return {}
    try:
        call = ast.parse(f"f({text})", mode="eval").body
        assert isinstance(call, ast.Call) and not call.args
        return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
    except (SyntaxError, ValueError, AssertionError) as err:
        raise ValueError(
            f"parameters {text!r} are not keyword arguments with literal values; write "
            "them as in Python, e.g. sigma='2 um', method='otsu'"
        ) from err


def verb_choices() -> list[str]:
    """The registered verbs and the built-in pipelines, sorted."""
    return sorted({*REGISTRY, *PIPELINES})


def run_on_layer(layer: Any, verb: str, parameters: str = "") -> LayerData:
    """Run ``verb`` (or a built-in pipeline) with ``parameters`` (text) on a napari
    layer: the new layer's data, lazy for volumes (see :func:`run_on_volume`)."""
    volume = layer_volume(
        layer.data, layer.scale, layer.translate, layer.units, layer.metadata, layer.name
    )
    return run_on_volume(volume, verb, parse_parameters(parameters))


def run_widget() -> Any:
    """The dock widget (magicgui, needs a Qt binding): pick a layer, a verb and its
    parameters, and Run; the result is added as a new lazy layer."""
    import napari
    from magicgui import magicgui

    def run(
        layer: napari.layers.Layer,
        verb: str = "gaussian",
        parameters: str = "sigma='1 voxel'",
    ) -> napari.types.LayerDataTuple:
        return run_on_layer(layer, verb, parameters)

    return magicgui(run, call_button="Run", verb={"choices": verb_choices()})
