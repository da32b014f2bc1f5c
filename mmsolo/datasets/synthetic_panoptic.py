"""A seeded synthetic panoptic-segmentation dataset in COCO panoptic format.

Images of ``size`` x ``size`` RGB. The stuff is one to three horizontal-ish
bands, from the top: 'sky' (a light blue vertical gradient; always on top
when present), then 'ground' (brown and green blotches) and/or 'water' (blue
with horizontal ripples) in random order. Bands meet at random heights along
gently tilted, wavy boundaries; each boundary is a 2 px void line (segment
id 0). Over the bands lie 0 to 5 shapes of :mod:`.synthetic_shapes` (the
things: circle, square, triangle; radius 10 to 48 px; random colour) and,
in about one image in ten, a crowd below them: 3 to 6 small shapes of one
class and colour annotated as one ``iscrowd=1`` segment. Gaussian pixel
noise (sigma 6) on top. Later shapes occlude earlier ones; segments are the
visible parts, and fragments under 20 px (things or stuff) are void.

Layout under ``out_dir``: images ``<split>/<id:06d>.jpg``, segment-id PNGs
``annotations/panoptic_<split>/<id:06d>.png`` (id = R + 256 G + 256^2 B)
and ``annotations/panoptic_<split>.json``. Category ids 1 to 6 follow
:data:`PANOPTIC_CLASSES` (things, then stuff), so mmdet's label of a
segment (``CocoPanopticDataset`` with ``classes=PANOPTIC_CLASSES``) is its
category id - 1.
"""

import os
from typing import List, Tuple

import cv2
import numpy as np

from mmsolo.fileio import dump_json_atomically
from .coco_masks import mask_box
from .panoptic_ids import id2rgb
from .synthetic_shapes import CLASSES as THING_CLASSES
from .synthetic_shapes import draw_shape, ensure_generated

STUFF_CLASSES = ('sky', 'ground', 'water')
PANOPTIC_CLASSES = THING_CLASSES + STUFF_CLASSES
# Bump when the images or annotations it writes change.
PANOPTIC_GENERATOR_VERSION = 1
MIN_FRAGMENT = 20
CROWD_PROB = 0.1
# Chance that sky, ground, water (in that order) appear in an image.
STUFF_PROBS = (0.8, 0.7, 0.5)


def stuff_bands(
    rng: np.random.Generator, size: int
) -> Tuple[np.ndarray, np.ndarray]:
    """Stuff class index per pixel (size, size) int64 (0 sky, 1 ground, 2
    water) and the void lines along the band boundaries, (size, size)
    bool, 2 px tall in every column."""
    present = [i for i, p in enumerate(STUFF_PROBS) if rng.random() < p]
    if not present:
        present = [int(rng.integers(0, len(STUFF_CLASSES)))]
    order = [i for i in present if i == 0] + [
        int(i) for i in rng.permutation([i for i in present if i])
    ]
    num_edges, gap = len(order) - 1, size // 8
    low, span = 0.15 * size, 0.7 * size - (len(order) - 2) * gap
    bases = (
        low
        + np.sort(rng.uniform(0, span, num_edges))
        + gap * np.arange(num_edges)
    )
    xs = np.arange(size) - size / 2
    ys = np.arange(size)[:, None]
    band = np.zeros((size, size), dtype=np.int64)
    void = np.zeros((size, size), dtype=bool)
    for base in bases:
        tilt, amp = rng.uniform(-0.06, 0.06), rng.uniform(0, 5)
        freq, phase = 2 * np.pi / rng.uniform(64, 256), rng.uniform(0, 7)
        edge = base + tilt * xs + amp * np.sin(freq * xs + phase)  # (size,)
        offset = ys - edge  # (size, size)
        band += offset >= 0
        void |= (offset >= -1) & (offset < 1)
    return np.asarray(order)[band], void


def _smooth_noise(
    rng: np.random.Generator, cells: int, size: int
) -> np.ndarray:
    """(size, size) float32 noise in about [0, 1] with blobs of ``size /
    cells`` px."""
    grid = rng.random((cells, cells)).astype(np.float32)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)


def stuff_texture(
    rng: np.random.Generator, kind: int, size: int
) -> np.ndarray:
    """(size, size, 3) float32 BGR texture of stuff class ``kind``."""
    jitter = rng.uniform(-15, 15, 3)
    if kind == 0:  # sky: light blue, paler towards the horizon
        top = np.array([230, 165, 105]) + jitter
        horizon = np.array([250, 230, 205]) + rng.uniform(-10, 5, 3)
        ramp = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
        return np.broadcast_to(
            top + (horizon - top) * ramp, (size, size, 3)
        ).astype(np.float32)
    if kind == 1:  # ground: brown and green blotches, speckled
        brown = np.array([45, 85, 135]) + jitter
        green = np.array([55, 140, 75]) + rng.uniform(-15, 15, 3)
        mix = np.clip(_smooth_noise(rng, size // 24 + 2, size), 0, 1)
        speckle = (_smooth_noise(rng, size // 4, size) - 0.5) * 50
        return (
            brown + (green - brown) * mix[..., None] + speckle[..., None]
        ).astype(np.float32)
    # water: blue with horizontal ripples
    ys = np.arange(size, dtype=np.float32)[:, None]
    xs = np.arange(size, dtype=np.float32)
    wobble = 2 * np.sin(
        xs * 2 * np.pi / rng.uniform(60, 120) + rng.uniform(0, 7)
    )
    ripple = np.sin((ys + wobble) * 2 * np.pi / rng.uniform(6, 12))
    base = np.array([150, 90, 30]) + jitter
    return (base + 30 * ripple[..., None]).astype(np.float32)


def make_panoptic_image(
    rng: np.random.Generator, size: int = 256
) -> Tuple[np.ndarray, np.ndarray, List[dict]]:
    """One image (H, W, 3) uint8 BGR, its segment ids (H, W) int32 (0:
    void) and its segments, COCO ``segments_info`` entries: ``id``,
    ``category_id`` (1-based, in :data:`PANOPTIC_CLASSES` order),
    ``iscrowd``, ``bbox`` ``[x, y, w, h]`` and ``area`` (pixels); things
    in drawing order, then stuff."""
    stuff, void = stuff_bands(rng, size)
    image = np.empty((size, size, 3), dtype=np.float32)
    for kind in np.unique(stuff):
        where = stuff == kind
        image[where] = stuff_texture(rng, int(kind), size)[where]
    shapes = []  # (class index, mask, iscrowd)
    if rng.random() < CROWD_PROB:
        kind, center = int(rng.integers(0, 3)), rng.uniform(16, size - 16, 2)
        mask = np.zeros((size, size), dtype=bool)
        for _ in range(rng.integers(3, 7)):
            cx, cy = center + rng.normal(0, 12, 2)
            mask |= draw_shape(kind, (cx, cy), rng.uniform(4, 8), size)
        shapes.append((kind, mask, 1))
        image[mask] = rng.integers(0, 256, size=3)
    for _ in range(rng.integers(0, 6)):
        kind = int(rng.integers(0, 3))
        radius = float(rng.uniform(10, 48))
        cx, cy = rng.uniform(0, size, 2)
        mask = draw_shape(kind, (cx, cy), radius, size)
        shapes.append((kind, mask, 0))
        image[mask] = rng.integers(0, 256, size=3)
    image += rng.normal(0, 6, size=image.shape)
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)

    parts = []  # (category id, visible mask, iscrowd)
    covered = np.zeros((size, size), dtype=bool)
    for kind, mask, iscrowd in reversed(shapes):  # the last one is on top
        parts.append((kind + 1, mask & ~covered, iscrowd))
        covered |= mask
    parts.reverse()
    for kind in range(len(STUFF_CLASSES)):
        parts.append(
            (
                len(THING_CLASSES) + kind + 1,
                (stuff == kind) & ~void & ~covered,
                0,
            )
        )
    parts = [p for p in parts if p[1].sum() >= MIN_FRAGMENT]
    ids = 1 + rng.choice((1 << 24) - 1, size=len(parts), replace=False)
    id_map = np.zeros((size, size), dtype=np.int32)
    segments = []
    for segment_id, (category_id, mask, iscrowd) in zip(ids, parts):
        id_map[mask] = segment_id
        segments.append(
            dict(
                id=int(segment_id),
                category_id=category_id,
                iscrowd=iscrowd,
                bbox=mask_box(mask),
                area=int(mask.sum()),
            )
        )
    return image, id_map, segments


def write_panoptic_split(
    out_dir: str, split: str, num_images: int, seed: int, size: int = 256
) -> str:
    """Write ``out_dir/<split>/*.jpg``, ``out_dir/annotations/panoptic_
    <split>/*.png`` and ``out_dir/annotations/panoptic_<split>.json``;
    returns the JSON path. Image ``k`` (1-based) is the ``k``-th
    :func:`make_panoptic_image` of ``np.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    seg_dir = os.path.join(out_dir, 'annotations', f'panoptic_{split}')
    os.makedirs(os.path.join(out_dir, split), exist_ok=True)
    os.makedirs(seg_dir, exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        image, id_map, segments = make_panoptic_image(rng, size)
        stem = f'{image_id:06d}'
        cv2.imwrite(os.path.join(out_dir, split, stem + '.jpg'), image)
        cv2.imwrite(
            os.path.join(seg_dir, stem + '.png'), id2rgb(id_map)[..., ::-1]
        )
        images.append(
            dict(id=image_id, file_name=stem + '.jpg', height=size, width=size)
        )
        annotations.append(
            dict(
                image_id=image_id,
                file_name=stem + '.png',
                segments_info=segments,
            )
        )
    num_things = len(THING_CLASSES)
    categories = [
        dict(
            id=i + 1,
            name=name,
            isthing=int(i < num_things),
            supercategory='shape' if i < num_things else 'scenery',
        )
        for i, name in enumerate(PANOPTIC_CLASSES)
    ]
    ann_path = os.path.join(out_dir, 'annotations', f'panoptic_{split}.json')
    dump_json_atomically(
        dict(images=images, annotations=annotations, categories=categories),
        ann_path,
    )
    return ann_path


def ensure_panoptic_shapes_dataset(
    data_root: str, num_train: int = 1000, num_val: int = 100, seed: int = 0
) -> str:
    """Generate the panoptic shapes set under ``data_root`` unless the one
    there was made with the same generator, counts and seed
    (``manifest.json``, see :func:`.synthetic_shapes.ensure_generated`; its
    ``dataset`` key keeps an instance shapes set from passing for it).
    Returns ``data_root`` with a trailing slash."""
    manifest = dict(
        dataset='panoptic_shapes',
        generator=PANOPTIC_GENERATOR_VERSION,
        num_train=num_train,
        num_val=num_val,
        seed=seed,
    )
    return ensure_generated(data_root, manifest, write_panoptic_split)
