"""Boxes from masks.

Times the boxes of 100 predicted masks at the original size of an
800x1216 image: mmdet 3.3's ``mask2bbox`` against mmsolo's
``masks_to_boxes`` (``mask_box='tight'`` and ``'main_parts'``), and, for
each of mmsolo's modes, its projections (the only step that differs between
the eager CPU path and the exported graph) reduced by NumPy, as the eager
CPU path does, against the same reductions in PyTorch, as the graph does.
Both timing orders (interleaved, one after the other).

    python benchmarks/bench_mask_boxes.py [--repeats 7]
"""

import argparse
import os.path as osp
import sys

import torch
from mmdet.structures.mask import mask2bbox

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from common import TIMING_ORDERS, print_table  # noqa: E402

from mmsolo.models.layers import masks_to_boxes  # noqa: E402
from mmsolo.models.layers.mask_boxes import mask_projections  # noqa: E402

IMG_SHAPE = (800, 1216)
NUM_MASKS = 100


def object_masks(seed: int = 0) -> torch.Tensor:
    """(100, 800, 1216) bool: an ellipse per mask, of random size and
    place, with a stray blob apart from it in every other mask."""
    g = torch.Generator().manual_seed(seed)
    ys = torch.arange(IMG_SHAPE[0]).view(-1, 1).float()
    xs = torch.arange(IMG_SHAPE[1]).view(1, -1).float()
    masks = torch.zeros((NUM_MASKS, *IMG_SHAPE), dtype=torch.bool)
    for i in range(NUM_MASKS):
        cy, cx = (
            torch.rand(2, generator=g) * torch.tensor(IMG_SHAPE)
        ).tolist()
        ry, rx = (20 + torch.rand(2, generator=g) * 200).tolist()
        masks[i] = ((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2 <= 1
        if i % 2:
            masks[i, :8, :8] = True
    return masks


def torch_projections(masks: torch.Tensor, count: bool):
    """The PyTorch reductions of :func:`mask_projections` (the graph's)."""
    if count:
        return masks.sum(2, dtype=torch.int32), masks.sum(1, dtype=torch.int32)
    return masks.amax(2) != 0, masks.amax(1) != 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=7)
    args = parser.parse_args()
    masks = object_masks()
    for count in (False, True):
        for ours, ref in zip(
            mask_projections(masks, count), torch_projections(masks, count)
        ):
            assert torch.equal(ours, ref), 'the two reductions differ'
    fns = {
        'mmdet mask2bbox': lambda: mask2bbox(masks),
        'tight': lambda: masks_to_boxes(masks, 'tight'),
        'main_parts': lambda: masks_to_boxes(masks, 'main_parts'),
        'any, NumPy': lambda: mask_projections(masks, False),
        'any, PyTorch': lambda: torch_projections(masks, False),
        'counts, NumPy': lambda: mask_projections(masks, True),
        'counts, PyTorch': lambda: torch_projections(masks, True),
    }
    rows = []
    for label, timer in TIMING_ORDERS:
        times = timer(fns, repeats=args.repeats)
        print(f'{label}: {times}', flush=True)
        mmdet = times['mmdet mask2bbox']
        rows.append(
            (
                label,
                times['tight'],
                mmdet / times['tight'],
                times['main_parts'],
                times['any, PyTorch'] / times['any, NumPy'],
                times['counts, PyTorch'] / times['counts, NumPy'],
            )
        )
    print()
    print_table(
        (
            'order',
            'tight ms',
            'mmdet mask2bbox / tight',
            'main_parts ms',
            'any: PyTorch / NumPy',
            'counts: PyTorch / NumPy',
        ),
        rows,
    )


if __name__ == '__main__':
    main()
