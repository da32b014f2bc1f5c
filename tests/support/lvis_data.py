"""Small generated sets in the LVIS v0.5 annotation format.

LVIS differs from COCO in what evaluation reads: each image lists the
categories verified absent (``neg_category_ids``) and those whose instances
are not all annotated (``not_exhaustive_category_ids``), each category has a
``frequency`` (``r``are, ``c``ommon, ``f``requent), and annotations carry no
``iscrowd``. Masks here come from the synthetic shapes generator.
"""

import json
import os
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from mmsolo.datasets.coco_masks import encode_rle, segmentation_to_mask
from mmsolo.datasets.synthetic_shapes import make_image

# id, name, frequency. 'hexagon' is never drawn: a category with no instance.
LVIS_SHAPE_CATEGORIES = (
    (1, 'circle', 'f'),
    (2, 'square', 'c'),
    (3, 'triangle', 'r'),
    (4, 'hexagon', 'r'),
)


def mask_to_polygons(mask: np.ndarray) -> List[List[float]]:
    """The outer contours of a (H, W) bool mask as LVIS polygons
    ``[[x0, y0, x1, y1, ...], ...]`` (parts of under 3 points dropped)."""
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    return [
        contour.reshape(-1).astype(float).tolist()
        for contour in contours
        if len(contour) >= 3
    ]


def lvis_annotation(
    mask: np.ndarray,
    category_id: int,
    ann_id: int,
    image_id: int,
    as_polygon: bool,
) -> dict:
    """One LVIS annotation of ``mask``; ``area`` and ``bbox`` are those of
    the segmentation as stored (a polygon rasterizes a little differently
    from the mask it was traced from). Empty dict if nothing is left."""
    if as_polygon:
        segmentation = mask_to_polygons(mask)
        if not segmentation:
            return {}
    else:
        segmentation = encode_rle(mask)
    stored = segmentation_to_mask(segmentation, *mask.shape)
    if not stored.any():
        return {}
    ys, xs = np.nonzero(stored)
    x0, y0 = int(xs.min()), int(ys.min())
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=category_id,
        segmentation=segmentation,
        area=int(stored.sum()),
        bbox=[x0, y0, int(xs.max()) + 1 - x0, int(ys.max()) + 1 - y0],
    )


def lvis_dataset(
    images: Sequence[dict],
    instances: Sequence[Sequence[Tuple[int, np.ndarray]]],
    categories: Sequence[Tuple[int, str, str]] = LVIS_SHAPE_CATEGORIES,
) -> Dict[str, list]:
    """An LVIS v0.5 annotation dict.

    Args:
        images (Sequence[dict]): ``id``, ``file_name``, ``height``,
            ``width`` of each image.
        instances (Sequence[Sequence[tuple]]): per image, its
            ``(category_id, (H, W) bool mask)`` pairs.
        categories (Sequence[tuple]): ``(id, name, frequency)``.

    Every second annotation is stored as polygons, the others as RLE.
    Odd-numbered images (by position) list every absent category as
    negative, even ones none (absent categories there are unverified and
    their detections ignored); every third image marks its first present
    category not exhaustive.
    """
    category_ids = [cat_id for cat_id, _, _ in categories]
    annotations, image_entries = [], []
    image_counts = dict.fromkeys(category_ids, 0)
    instance_counts = dict.fromkeys(category_ids, 0)
    for index, (image, pairs) in enumerate(zip(images, instances)):
        present = []
        for category_id, mask in pairs:
            ann = lvis_annotation(
                mask,
                category_id,
                len(annotations) + 1,
                image['id'],
                len(annotations) % 2 == 1,
            )
            if not ann:
                continue
            annotations.append(ann)
            instance_counts[category_id] += 1
            if category_id not in present:
                present.append(category_id)
        for category_id in present:
            image_counts[category_id] += 1
        absent = [cat_id for cat_id in category_ids if cat_id not in present]
        negative = absent if index % 2 == 0 else []
        not_exhaustive = present[:1] if index % 3 == 2 else []
        image_entries.append(
            dict(
                image,
                neg_category_ids=negative,
                not_exhaustive_category_ids=not_exhaustive,
            )
        )
    category_entries = [
        {
            'id': cat_id,
            'name': name,
            'synset': f'{name}.n.01',
            'synonyms': [name],
            'def': f'a {name}',
            'frequency': frequency,
            'image_count': image_counts[cat_id],
            'instance_count': instance_counts[cat_id],
        }
        for cat_id, name, frequency in categories
    ]
    return dict(
        images=image_entries,
        annotations=annotations,
        categories=category_entries,
    )


def write_lvis_split(
    out_dir: str, split: str, num_images: int, seed: int, size: int = 256
) -> str:
    """Write synthetic-shapes images to ``out_dir/<split>2017/`` and their
    LVIS v0.5 annotations to ``out_dir/annotations/lvis_v0.5_<split>.json``
    (the layout of ``configs/_base_/datasets/lvis_v0.5_instance.py``, file
    names in LVIS v0.5's COCO-2014 style); returns the annotation path."""
    rng = np.random.default_rng(seed)
    image_dir = os.path.join(out_dir, f'{split}2017')
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(os.path.join(out_dir, 'annotations'), exist_ok=True)
    images, instances = [], []
    for image_id in range(1, num_images + 1):
        image, shapes = make_image(rng, size)
        cv2.imwrite(os.path.join(image_dir, f'{image_id:012d}.png'), image)
        images.append(
            dict(
                id=image_id,
                file_name=f'COCO_{split}2014_{image_id:012d}.png',
                height=size,
                width=size,
            )
        )
        instances.append(
            [(shape['category_id'] + 1, shape['mask']) for shape in shapes]
        )
    ann_path = os.path.join(out_dir, 'annotations', f'lvis_v0.5_{split}.json')
    with open(ann_path, 'w') as f:
        json.dump(lvis_dataset(images, instances), f)
    return ann_path
