"""Matrix NMS at least 10x faster than mmdet's, with
identical results.

Times ``mmsolo.models.layers.matrix_nms`` against
``mmdet.models.layers.mask_matrix_nms`` on the same seeded inputs, both
kernels, interleaved, and prints the medians and the ratio mmdet/ours. It
also checks that both return equal scores (max abs difference printed),
labels and keep indices (same order). Each case is timed twice: the two
functions interleaved (each reads the masks after the other has flushed
the cache) and one after the other (the masks stay in cache, as when the
head has just thresholded them).

Input recipe (seeded, like a trained SOLOv2 gives them on one image):
60 objects, each an ellipse or a box of random height and width in
[10, 150] px at a random place of a 200x304 canvas, each of one of
``--classes`` (default 10) classes; the candidates (100, 500 or 1000) are
spread evenly over the objects, each a near-duplicate of its object's mask,
shifted by up to 3 px and resized by up to 3 px. An object's candidates get
a base score in [0.1, 1) plus noise of up to 0.05. Masks are bool, as the
head passes them (``mask_probs > mask_thr``).

    python benchmarks/bench_matrix_nms.py [--repeats 7] [--classes 10]
        [--seed 0] [--sizes 100 500 1000] [--phases]

``--phases`` also prints what each phase of ours costs (medians, each
phase timed on its own, gaussian kernel), through the sparse path's public
functions: packing the masks to bits, their bounds, listing the linked
pairs, the pairs' intersections, the decays from them, and the copy of the
kept masks that the call returns, beside the whole call and the call
without that copy (``return_masks=False``, as the post-processor calls
it); the copy and the call once more, each right after a call of mmdet's.
"""

import argparse
import os.path as osp
import sys
from typing import Dict, Tuple

import torch
from mmdet.models.layers import mask_matrix_nms

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from common import TIMING_ORDERS, print_table, time_blocks, time_interleaved  # noqa: E402

from mmsolo.models.layers import matrix_nms, pack_mask_rows, packed_mask_bounds  # noqa: E402
from mmsolo.models.layers.nms import (  # noqa: E402
    linked_pairs,
    pair_intersections,
    sparse_matrix_nms_decay,
)

CANVAS = (200, 304)
NUM_OBJECTS = 60
SIZES = (100, 500, 1000)
KERNELS = ('gaussian', 'linear')
# Goal ratio mmdet/ours per number of masks, in each timing order.
GOALS = {100: 5.0, 500: 10.0, 1000: 10.0}


def realistic_candidates(
    num: int,
    num_classes: int,
    seed: int = 0,
    canvas: Tuple[int, int] = CANVAS,
    num_objects: int = NUM_OBJECTS,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bool masks (num, H, W), labels (num,) and scores (num,) following
    the recipe of the module docstring."""
    g = torch.Generator().manual_seed(seed)
    height, width = canvas
    ys = torch.arange(height, dtype=torch.float)[:, None]
    xs = torch.arange(width, dtype=torch.float)[None, :]
    objects = []
    for _ in range(num_objects):
        h, w = (10 + torch.rand(2, generator=g) * 140).tolist()
        cy = torch.rand(1, generator=g).item() * height
        cx = torch.rand(1, generator=g).item() * width
        label = int(torch.randint(num_classes, (1,), generator=g))
        score = 0.1 + 0.9 * torch.rand(1, generator=g).item()
        ellipse = bool(torch.rand(1, generator=g) < 0.5)
        objects.append((cy, cx, h, w, label, score, ellipse))
    masks = torch.zeros(num, height, width, dtype=torch.bool)
    labels = torch.zeros(num, dtype=torch.long)
    scores = torch.zeros(num)
    for k in range(num):
        cy, cx, h, w, label, score, ellipse = objects[k % num_objects]
        dy, dx, dh, dw = ((torch.rand(4, generator=g) * 2 - 1) * 3).tolist()
        cy, cx, ry, rx = cy + dy, cx + dx, (h + dh) / 2, (w + dw) / 2
        if ellipse:
            masks[k] = ((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2 <= 1
        else:
            masks[k] = ((ys - cy).abs() <= ry) & ((xs - cx).abs() <= rx)
        labels[k] = label
        scores[k] = score + 0.05 * torch.rand(1, generator=g).item()
    return masks, labels, scores


def compare(ours, ref) -> float:
    """Max abs score difference; raises if labels or order differ."""
    if not (torch.equal(ours[1], ref[1]) and torch.equal(ours[3], ref[3])):
        raise AssertionError(
            'matrix_nms: labels or keep order differ from mmdet'
        )
    return (ours[0] - ref[0]).abs().max().item() if len(ref[0]) else 0.0


def print_goals(ratios: dict) -> None:
    """Per number of masks with a goal (:data:`GOALS`) and timing order, the
    lowest ratio over the kernels and whether it reaches the goal."""
    print('\n| masks | timed | lowest mmdet/ours | goal | met |')
    print('|---|---|---|---|---|')
    for (num, order), values in ratios.items():
        if num in GOALS:
            worst = min(values)
            met = 'yes' if worst >= GOALS[num] else 'NO'
            print(
                f'| {num} | {order} | {worst:.1f}x | '
                f'>= {GOALS[num]:.0f}x | {met} |'
            )


def phase_times(
    masks: torch.Tensor,
    labels: torch.Tensor,
    scores: torch.Tensor,
    repeats: int,
) -> Tuple[Dict[str, float], int]:
    """Median ms of each phase of ours (see the module docstring), each
    phase run ``repeats`` times on its own, one after the other, and the
    number of linked pairs whose intersections are counted."""
    order = torch.sort(scores, descending=True)[1]
    words = pack_mask_rows(masks)
    boxes = packed_mask_bounds(words, masks.shape[2])[order.numpy()]
    sorted_labels = labels[order]
    first, second = linked_pairs(boxes, sorted_labels)
    phases = {
        'pack to bits': lambda: pack_mask_rows(masks),
        'bounds': lambda: packed_mask_bounds(words, masks.shape[2]),
        'linked pairs': lambda: linked_pairs(boxes, sorted_labels),
        'intersections': lambda: pair_intersections(
            words, boxes, first, second, order.numpy()
        ),
        'decays (all of the above and the IoUs)': lambda: (
            sparse_matrix_nms_decay(masks, labels, order)
        ),
        'copy of the kept masks': lambda: masks[order],
        'matrix_nms': lambda: matrix_nms(masks, labels, scores),
        'matrix_nms, return_masks=False': lambda: matrix_nms(
            masks, labels, scores, return_masks=False
        ),
    }
    times = time_blocks(phases, repeats=repeats)
    # The same copy and call, each right after mmdet's Matrix NMS (untimed),
    # whose large buffers have just been freed.
    after_mmdet = time_interleaved(
        {
            name: phases[name]
            for name in ('copy of the kept masks', 'matrix_nms')
        },
        repeats=repeats,
        setup={
            name: lambda: mask_matrix_nms(masks, labels, scores)
            for name in ('copy of the kept masks', 'matrix_nms')
        },
    )
    for name, value in after_mmdet.items():
        times[f"{name}, right after mmdet's"] = value
    return times, len(first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--classes', type=int, default=10)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--phases', action='store_true', help='also time each phase of ours'
    )
    parser.add_argument(
        '--sizes',
        type=int,
        nargs='+',
        default=list(SIZES),
        help='numbers of candidate masks to time',
    )
    args = parser.parse_args()
    print(__doc__.split('Input recipe')[1].split('\n\n')[0].strip())
    print(
        f'classes={args.classes} seed={args.seed} '
        f'threads={torch.get_num_threads()} repeats={args.repeats}\n'
    )
    rows, ratios = [], {}
    for num in args.sizes:
        masks, labels, scores = realistic_candidates(
            num, args.classes, args.seed
        )
        for kernel in KERNELS:
            kwargs = dict(kernel=kernel, sigma=2.0)
            diff = compare(
                matrix_nms(masks, labels, scores, **kwargs),
                mask_matrix_nms(masks, labels, scores, **kwargs),
            )
            fns = {
                'mmdet': lambda: mask_matrix_nms(
                    masks, labels, scores, **kwargs
                ),
                'ours': lambda: matrix_nms(masks, labels, scores, **kwargs),
            }
            for order, timer in TIMING_ORDERS:
                times = timer(fns, repeats=args.repeats)
                ratio = times['mmdet'] / times['ours']
                ratios.setdefault((num, order), []).append(ratio)
                rows.append(
                    (
                        num,
                        kernel,
                        order,
                        times['mmdet'],
                        times['ours'],
                        f'{ratio:.1f}x',
                        f'{diff:.1e}',
                    )
                )
    print_table(
        (
            'masks',
            'kernel',
            'timed',
            'mmdet ms',
            'ours ms',
            'mmdet/ours',
            'max |score diff|',
        ),
        rows,
    )
    print_goals(ratios)
    if args.phases:
        print(
            f'\nPhases of ours (gaussian), ms, '
            f'{torch.get_num_threads()} threads:'
        )
        for num in args.sizes:
            masks, labels, scores = realistic_candidates(
                num, args.classes, args.seed
            )
            times, num_pairs = phase_times(masks, labels, scores, args.repeats)
            print(f'\n{num} masks ({num_pairs} linked pairs):')
            for phase, value in times.items():
                print(f'  {phase}: {value:.2f}')


if __name__ == '__main__':
    main()
