"""Export-friendly stand-ins swapped in while a model is exported.

torch 2.13's exporter folds ``torch.linspace`` of a symbolic length into a
constant of the traced length, so a graph with a dynamic input size fails
at other sizes (ONNX Runtime: "invalid expand shape" in the coordinate
maps of the CoordConv inputs). While exporting, the modules that append
coordinate maps use :func:`export_coord_features` instead: the same maps
built from ``arange`` (values equal to within one float32 rounding).
"""
import contextlib
from typing import Iterator

import torch
from torch import Tensor

# Modules that imported ``concat_coords`` from mmsolo.models.layers.
COORD_USERS = ('mmsolo.models.dense_heads.solov2_head',
               'mmsolo.models.layers.pyramid_fusion')


def _axis(size: int, like: Tensor) -> Tensor:
    """(size,) values from -1 to 1 as ``torch.linspace(-1, 1, size)``."""
    steps = torch.arange(size, device=like.device, dtype=like.dtype)
    return steps * (2.0 / max(size - 1, 1)) - 1.0


def export_coord_features(feats: Tensor) -> Tensor:
    """x/y coordinate maps (N, 2, H, W) of ``feats`` (N, C, H, W), as
    ``mmsolo.models.layers.coord_features``."""
    n, _, h, w = feats.shape
    xs = _axis(w, feats)[None, :].expand(h, w)
    ys = _axis(h, feats)[:, None].expand(h, w)
    return torch.stack([xs, ys])[None].expand(n, 2, h, w)


def export_concat_coords(feats: Tensor) -> Tensor:
    """``feats`` (N, C, H, W) with its coordinate maps: (N, C + 2, H, W)."""
    return torch.cat([feats, export_coord_features(feats)], dim=1)


@contextlib.contextmanager
def export_friendly_coords() -> Iterator[None]:
    """Swap :func:`export_concat_coords` in for the model's coordinate
    maps during an export; restores the originals after."""
    import importlib
    modules = [importlib.import_module(name) for name in COORD_USERS]
    missing = [m.__name__ for m in modules if not hasattr(m, 'concat_coords')]
    if missing:  # a module moved: the patch would silently do nothing
        raise RuntimeError(f'export_friendly_coords: {missing} no longer '
                           'import concat_coords; update COORD_USERS')
    originals = [module.concat_coords for module in modules]
    try:
        for module in modules:
            module.concat_coords = export_concat_coords
        yield
    finally:
        for module, original in zip(modules, originals):
            module.concat_coords = original
