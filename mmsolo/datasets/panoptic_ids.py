"""COCO panoptic segment ids and the RGB colours of the PNGs that hold
them: id = R + 256 G + 256^2 B."""

import numpy as np


def rgb2id(color: np.ndarray) -> np.ndarray:
    """Segment ids (...) int32 of RGB colours (..., 3)."""
    color = np.asarray(color, dtype=np.int32)
    return color[..., 0] + 256 * color[..., 1] + 256 * 256 * color[..., 2]


def id2rgb(id_map: np.ndarray) -> np.ndarray:
    """(H, W) segment ids -> (H, W, 3) uint8 RGB."""
    return np.stack(
        [id_map % 256, id_map // 256 % 256, id_map // 65536], axis=-1
    ).astype(np.uint8)
