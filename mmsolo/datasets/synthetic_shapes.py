"""A seeded synthetic instance-segmentation dataset in COCO format.

Images of ``image_size`` x ``image_size`` RGB: a random uniform background
colour plus Gaussian pixel noise (sigma 12), and 1 to 6 shapes, each a circle,
a square or an upright triangle (3 classes) of radius 10 to 64 px (half the
side of the square, circumradius of the triangle), centred anywhere in the
image, in a random colour. Later shapes occlude earlier ones: masks are the
visible parts, and fragments under 20 px are dropped.

:class:`ShapeSizes` changes the image size, the shapes' sizes (``min_size``
and ``max_size``: twice the radius), their number per image and the number
of classes (the first 1 to 3 kinds); its defaults draw the set above, the
same random numbers in the same order.
"""

import json
import os
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np

from mmsolo.fileio import dump_json_atomically
from mmsolo.utils.crop_rle import Box, encode_crops
from .coco_masks import mask_box

CLASSES = ('circle', 'square', 'triangle')
# Bump when the images or annotations it writes change.
GENERATOR_VERSION = 1


def draw_shape_crop(
    kind: int, center: Tuple[float, float], radius: float, size: int
) -> Tuple[Box, np.ndarray]:
    """One shape (0 circle, 1 square, 2 triangle) drawn on the crop of a
    (size, size) image around it: ``(box, crop)``, ``crop`` bool of the
    box's size. The crop holds every pixel the shape covers in the image
    (the box reaches past the shape's rounded extent, clipped to the
    image), drawn by the same integer coordinates shifted by the box's
    corner, so pasted at ``box`` it is the full-image drawing exactly."""
    cx, cy = center
    x0 = min(max(int(np.floor(cx - radius)) - 3, 0), size)
    y0 = min(max(int(np.floor(cy - radius)) - 3, 0), size)
    x1 = max(min(int(np.ceil(cx + radius)) + 4, size), x0)
    y1 = max(min(int(np.ceil(cy + radius)) + 4, size), y0)
    canvas = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    if canvas.size == 0:
        return (y0, x0, y1, x1), canvas.astype(bool)
    if kind == 0:
        centre = (int(round(cx)) - x0, int(round(cy)) - y0)
        cv2.circle(canvas, centre, int(round(radius)), 1, -1)
    elif kind == 1:
        low = (int(round(cx - radius)) - x0, int(round(cy - radius)) - y0)
        high = (int(round(cx + radius)) - x0, int(round(cy + radius)) - y0)
        cv2.rectangle(canvas, low, high, 1, -1)
    else:
        angles = np.deg2rad([-90, 30, 150])
        points = np.stack(
            [cx + radius * np.cos(angles), cy + radius * np.sin(angles)], 1
        )
        corner = np.array([x0, y0], np.int32)
        cv2.fillPoly(canvas, [np.round(points).astype(np.int32) - corner], 1)
    return (y0, x0, y1, x1), canvas.astype(bool)


def paste(box: Box, crop: np.ndarray, size: int) -> np.ndarray:
    """(size, size) bool mask of ``crop`` at ``box``."""
    mask = np.zeros((size, size), dtype=bool)
    mask[box[0] : box[2], box[1] : box[3]] = crop
    return mask


def draw_shape(
    kind: int, center: Tuple[float, float], radius: float, size: int
) -> np.ndarray:
    """(size, size) bool mask of one shape (0 circle, 1 square, 2
    triangle)."""
    return paste(*draw_shape_crop(kind, center, radius, size), size)


@dataclass(frozen=True)
class ShapeSizes:
    """What the shapes of a generated set look like; the defaults give the
    quick-start set.

    Attributes:
        min_size (float): Smallest shape size (twice the radius: the
            circle's diameter, the square's side) in pixels.
        max_size (float): Largest shape size; sizes are uniform between.
        min_shapes (int): Fewest shapes drawn per image.
        max_shapes (int): Most shapes drawn per image.
        num_classes (int): Shape kinds drawn, 1 to 3: circle, square,
            triangle, in that order.
        min_fragment (int, optional): Visible parts under this many pixels
            are dropped; default: 20, or ``min_size`` where smaller.
    """

    min_size: float = 20
    max_size: float = 128
    min_shapes: int = 1
    max_shapes: int = 6
    num_classes: int = 3
    min_fragment: Optional[int] = None

    def __post_init__(self) -> None:
        if not 0 < self.min_size <= self.max_size:
            raise ValueError(
                'shape sizes: need 0 < min_size <= max_size, got '
                f'{self.min_size} and {self.max_size}'
            )
        if not 0 <= self.min_shapes <= self.max_shapes:
            raise ValueError(
                'shapes per image: need 0 <= min <= max, got '
                f'{self.min_shapes} and {self.max_shapes}'
            )
        if not 1 <= self.num_classes <= len(CLASSES):
            raise ValueError(
                f'num_classes: 1 to {len(CLASSES)} shape kinds, got '
                f'{self.num_classes}'
            )

    @property
    def fragment(self) -> int:
        """The smallest visible part kept, in pixels."""
        if self.min_fragment is not None:
            return self.min_fragment
        return int(min(20, self.min_size))


def make_image_crops(
    rng: np.random.Generator,
    size: int = 256,
    min_shapes: Optional[int] = None,
    max_shapes: Optional[int] = None,
    min_fragment: Optional[int] = None,
    sizes: ShapeSizes = ShapeSizes(),
) -> Tuple[np.ndarray, List[dict]]:
    """:func:`make_image` with each instance's visible part as ``box``
    (y0, x0, y1, x1) and ``crop`` (bool, the box's size) instead of a
    full-size ``mask``: memory grows with the shapes' sizes, not with
    their number times the image."""
    min_shapes = sizes.min_shapes if min_shapes is None else min_shapes
    max_shapes = sizes.max_shapes if max_shapes is None else max_shapes
    if min_fragment is None:
        min_fragment = sizes.fragment
    background = rng.integers(0, 256, size=3)
    image = np.broadcast_to(background, (size, size, 3)).astype(np.float32)
    shapes = []
    for _ in range(rng.integers(min_shapes, max_shapes + 1)):
        kind = int(rng.integers(0, sizes.num_classes))
        radius = float(rng.uniform(sizes.min_size / 2, sizes.max_size / 2))
        center = (float(rng.uniform(0, size)), float(rng.uniform(0, size)))
        colour = rng.integers(0, 256, size=3)
        box, crop = draw_shape_crop(kind, center, radius, size)
        image[box[0] : box[2], box[1] : box[3]][crop] = colour
        shapes.append((kind, box, crop))
    image += rng.normal(0, 12, size=image.shape)
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)

    instances = []
    covered = np.zeros((size, size), dtype=bool)
    for kind, box, crop in reversed(shapes):  # the last drawn is all seen
        region = covered[box[0] : box[2], box[1] : box[3]]
        visible = crop & ~region
        region |= crop
        if visible.sum() >= min_fragment:
            instances.append(dict(category_id=kind, box=box, crop=visible))
    return image, instances[::-1]


def make_image(
    rng: np.random.Generator,
    size: int = 256,
    min_shapes: Optional[int] = None,
    max_shapes: Optional[int] = None,
    min_fragment: Optional[int] = None,
    sizes: ShapeSizes = ShapeSizes(),
) -> Tuple[np.ndarray, List[dict]]:
    """One image (H, W, 3) uint8 BGR and its instances (``category_id``
    0-based, ``mask`` bool); ``min_shapes``, ``max_shapes`` and
    ``min_fragment``, where given, replace those of ``sizes``."""
    image, instances = make_image_crops(
        rng, size, min_shapes, max_shapes, min_fragment, sizes
    )
    return image, [
        dict(
            category_id=inst['category_id'],
            mask=paste(inst['box'], inst['crop'], size),
        )
        for inst in instances
    ]


def instance_annotation(
    instance: dict, rle: dict, ann_id: int, image_id: int
) -> dict:
    """COCO annotation of one instance of :func:`make_image_crops`
    (``category_id`` 0-based, ``box``, ``crop``) whose mask on the image
    encodes to ``rle`` (pycocotools' dict): compressed RLE, tight box."""
    x, y, w, h = mask_box(instance['crop'])
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=instance['category_id'] + 1,
        segmentation=dict(rle, counts=rle['counts'].decode('ascii')),
        area=int(instance['crop'].sum()),
        bbox=[x + instance['box'][1], y + instance['box'][0], w, h],
        iscrowd=0,
    )


def write_split(
    out_dir: str,
    split: str,
    num_images: int,
    seed: int,
    size: int = 256,
    sizes: ShapeSizes = ShapeSizes(),
) -> str:
    """Write ``out_dir/<split>/*.png`` and ``out_dir/annotations/
    instances_<split>.json`` (images of ``size`` x ``size``, shapes as
    ``sizes`` says); returns the annotation path."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(out_dir, split), exist_ok=True)
    os.makedirs(os.path.join(out_dir, 'annotations'), exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        image, instances = make_image_crops(rng, size, sizes=sizes)
        file_name = f'{image_id:06d}.png'
        cv2.imwrite(os.path.join(out_dir, split, file_name), image)
        images.append(
            dict(id=image_id, file_name=file_name, height=size, width=size)
        )
        rles = encode_crops(
            ((inst['box'], inst['crop']) for inst in instances), (size, size)
        )
        for inst, rle in zip(instances, rles):
            annotations.append(
                instance_annotation(inst, rle, len(annotations) + 1, image_id)
            )
    coco: Dict[str, list] = dict(
        images=images,
        annotations=annotations,
        categories=[
            dict(id=i + 1, name=name)
            for i, name in enumerate(CLASSES[: sizes.num_classes])
        ],
    )
    ann_path = os.path.join(out_dir, 'annotations', f'instances_{split}.json')
    dump_json_atomically(coco, ann_path)
    return ann_path


def ensure_generated(
    data_root: str, manifest: dict, write: Callable[[str, str, int, int], str]
) -> str:
    """Write the train and val splits under ``data_root`` with ``write(
    data_root, split, num_images, seed)`` (val seed ``seed + 1``) unless
    ``data_root/manifest.json`` equals ``manifest`` (keys ``num_train``,
    ``num_val``, ``seed`` and whatever names the generator); a set made
    otherwise is regenerated, never reused. Returns ``data_root`` with a
    trailing slash, as configs write it."""
    manifest_path = os.path.join(data_root, 'manifest.json')
    if os.path.isfile(manifest_path):
        with open(manifest_path) as f:
            if json.load(f) == manifest:
                return os.path.join(data_root, '')
        os.remove(manifest_path)
    seed = manifest['seed']
    for split, count, split_seed in (
        ('train', manifest['num_train'], seed),
        ('val', manifest['num_val'], seed + 1),
    ):
        write(data_root, split, count, split_seed)
    dump_json_atomically(manifest, manifest_path)
    return os.path.join(data_root, '')


def ensure_shapes_dataset(
    data_root: str, num_train: int = 1000, num_val: int = 100, seed: int = 0
) -> str:
    """Generate the shapes set under ``data_root`` unless the one there was
    made with the same generator, counts and seed (``manifest.json``, see
    :func:`ensure_generated`). Returns ``data_root`` with a trailing
    slash."""
    manifest = dict(
        generator=GENERATOR_VERSION,
        num_train=num_train,
        num_val=num_val,
        seed=seed,
    )
    return ensure_generated(data_root, manifest, write_split)
