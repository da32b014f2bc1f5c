"""Generated shapes sets with fewer classes, and checkpoints that differ
from a model's fresh initialisation: the data and weights of the
fine-tuning tests (a model of 3 classes fine-tuned on 1 or 2)."""

import json
import os
from typing import Optional, Sequence

import torch

from mmsolo.datasets import write_split


def write_class_subset(
    ann_file: str,
    out_file: str,
    classes: Sequence[str],
    names: Optional[Sequence[str]] = None,
) -> str:
    """Copy the COCO file ``ann_file`` to ``out_file`` keeping the
    categories named in ``classes`` (ids 1..k in that order, renamed to
    ``names`` if given) and their annotations; every image stays. Returns
    ``out_file``."""
    with open(ann_file) as f:
        coco = json.load(f)
    by_name = {cat['name']: cat for cat in coco['categories']}
    missing = [name for name in classes if name not in by_name]
    if missing:
        raise KeyError(f'{ann_file} has no category {missing}')
    new_id = {by_name[name]['id']: i + 1 for i, name in enumerate(classes)}
    coco['categories'] = [
        dict(by_name[name], id=i + 1, name=new_name)
        for i, (name, new_name) in enumerate(zip(classes, names or classes))
    ]
    coco['annotations'] = [
        dict(ann, category_id=new_id[ann['category_id']])
        for ann in coco['annotations']
        if ann['category_id'] in new_id
    ]
    os.makedirs(os.path.dirname(os.path.abspath(out_file)), exist_ok=True)
    with open(out_file, 'w') as f:
        json.dump(coco, f)
    return out_file


def write_subset_shapes(
    root: str,
    classes: Sequence[str],
    num_train: int = 4,
    num_val: int = 2,
    size: int = 128,
    names: Optional[Sequence[str]] = None,
) -> dict:
    """A shapes set under ``root`` (``train/``, ``val/`` images) whose
    annotation files (``annotations/{train,val}_subset.json``) hold only
    ``classes`` (renamed to ``names`` if given). Returns the paths:
    ``root``, ``train_ann``, ``val_ann``, ``train_img``, ``val_img``."""
    paths = dict(root=root)
    for split, count, seed in (('train', num_train, 11), ('val', num_val, 12)):
        full = write_split(root, split, num_images=count, seed=seed, size=size)
        paths[f'{split}_ann'] = write_class_subset(
            full,
            os.path.join(root, 'annotations', f'{split}_subset.json'),
            classes,
            names,
        )
        paths[f'{split}_img'] = os.path.join(root, split)
    return paths


def shift_checkpoint(path: str, out_file: str, offset: float = 0.5) -> str:
    """Write ``path``'s checkpoint to ``out_file`` with ``offset`` added to
    every floating-point weight, so that none equals a freshly initialised
    model's (a loaded weight and a re-initialised one can then be told
    apart). Returns ``out_file``."""
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    state = checkpoint['state_dict']
    for key, value in state.items():
        if value.is_floating_point():
            state[key] = value + offset
    torch.save(checkpoint, out_file)
    return out_file
