"""DataTree helpers: which nodes hold volumes, and picking one level of a pyramid.

A multiscale pyramid is an :class:`xarray.DataTree` whose nodes (``scale0``,
``scale1``...) each hold one volume. These helpers are shared by the registry (a verb
maps over every image node), the writers, and the viewers.
"""

from __future__ import annotations

import xarray as xr

from xarray_microct.core.volume import SPATIAL_DIMS


def is_image(variable: xr.DataArray) -> bool:
    """Whether a variable has the spatial dims of a volume.

    Examples
    --------
    >>> import numpy as np
    >>> is_image(xr.DataArray(np.zeros((1, 2, 3)), dims=("z", "y", "x")))
    True
    >>> is_image(xr.DataArray(0.5))
    False
    """
    return tuple(variable.dims[-3:]) == SPATIAL_DIMS


def image_nodes(tree: xr.DataTree) -> list[xr.DataTree]:
    """The nodes of ``tree`` holding at least one volume, in tree order.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> tree = mct.from_array(np.zeros((8, 8, 8)), chunks=4).microct.pyramid(levels=2)
    >>> [node.path for node in image_nodes(tree)]
    ['/scale0', '/scale1']
    """
    return [
        node
        for node in tree.subtree
        if any(is_image(v) for v in node.to_dataset(inherit=False).data_vars.values())
    ]


def select_node(tree: xr.DataTree, level: int | str) -> xr.DataTree:
    """The image node of ``tree`` at index ``level`` (0 = first) or path ``level``.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> tree = mct.from_array(np.zeros((8, 8, 8)), chunks=4).microct.pyramid(levels=2)
    >>> select_node(tree, -1).path
    '/scale1'
    """
    nodes = image_nodes(tree)
    if not nodes:
        raise ValueError("the DataTree holds no volume (no variable with dims z, y, x)")
    if isinstance(level, str):
        try:
            return tree[level]  # type: ignore[return-value]
        except KeyError as err:
            names = [n.path for n in nodes]
            raise KeyError(f"no level {level!r} in the tree; levels are {names}") from err
    if not -len(nodes) <= level < len(nodes):
        raise IndexError(f"level {level} out of range: the tree has {len(nodes)} levels")
    return nodes[level]


def single_image(node: xr.DataTree) -> xr.DataArray:
    """The one volume of a node, with a clear error when it holds several or none.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> tree = mct.from_array(np.zeros((8, 8, 8)), chunks=4, name="scan").microct.pyramid()
    >>> single_image(tree["scale0"]).name
    'scan'
    """
    images = [v for v in node.to_dataset(inherit=False).data_vars.values() if is_image(v)]
    if len(images) != 1:
        raise ValueError(
            f"node {node.path!r} holds {len(images)} volumes; pick one with "
            "tree[path][name].microct"
        )
    return images[0]


def level_images(tree: xr.DataTree) -> list[xr.DataArray]:
    """The one volume of every image node, in tree order: the levels of a pyramid.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> tree = mct.from_array(np.zeros((8, 8, 8)), chunks=4).microct.pyramid(levels=2)
    >>> [level.shape for level in level_images(tree)]
    [(8, 8, 8), (4, 4, 4)]
    """
    nodes = image_nodes(tree)
    if not nodes:
        raise ValueError("the DataTree holds no volume (no variable with dims z, y, x)")
    return [single_image(node) for node in nodes]
