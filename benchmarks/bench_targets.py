"""Training targets and losses against mmdet 3.3's.

Times ``mask_head.loss_by_feat`` (grid target assignment of every
ground-truth instance, dynamic convolution of the positive kernels, Dice and
Focal losses) of SOLOv2-R50 on the same head outputs and ground truth: a
batch of 2 images of 800x1216 with 50 objects each (ellipses whose sizes
cover every level's scale range, several overlapping), with the backward
pass of the losses timed beside it. Both are timed interleaved and one after
the other (mmdet's times vary with the order; the lower ratio counts). The
losses are compared: the goal is within 1e-4 relative.

    python benchmarks/bench_targets.py [--repeats 7]
"""

import argparse
import os.path as osp
import sys
from typing import List, Tuple

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from common import TIMING_ORDERS, print_table, quiet_init_logs  # noqa: E402,E501
from support import build_paired_solov2  # noqa: E402

from mmsolo.models.layers import MaskFeatures  # noqa: E402
from mmsolo.testing import demo_batch, random_gt_boxes  # noqa: E402

IMG_SHAPE = (800, 1216)
NUM_IMAGES = 2
OBJECTS_PER_IMAGE = 50


def head_outputs(head, seed: int = 0) -> Tuple[List, List, torch.Tensor]:
    """Random kernels, category logits and mask features of the head's
    shapes for the batch, as leaves that take gradients."""
    generator = torch.Generator().manual_seed(seed)
    kernels, logits = [], []
    for grid in head.num_grids:
        kernels.append(
            (
                torch.randn(
                    NUM_IMAGES,
                    head.kernel_out_channels,
                    grid,
                    grid,
                    generator=generator,
                )
                * 0.05
            ).requires_grad_()
        )
        logits.append(
            (
                torch.randn(
                    NUM_IMAGES,
                    head.cls_out_channels,
                    grid,
                    grid,
                    generator=generator,
                )
                - 4
            ).requires_grad_()
        )
    mask_feats = torch.randn(
        NUM_IMAGES,
        head.mask_feat_channels,
        IMG_SHAPE[0] // 4,
        IMG_SHAPE[1] // 4,
        generator=generator,
    ).requires_grad_()
    return kernels, logits, mask_feats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=7)
    args = parser.parse_args()
    quiet_init_logs()
    reference, ours = build_paired_solov2()
    head, ref_head = ours.mask_head, reference.mask_head
    head.train()
    ref_head.train()
    _, samples = demo_batch(
        [IMG_SHAPE] * NUM_IMAGES,
        gt_instances=random_gt_boxes(
            NUM_IMAGES, OBJECTS_PER_IMAGE, IMG_SHAPE, head.num_classes
        ),
    )
    gt_instances = [sample.gt_instances for sample in samples]
    metas = [sample.metainfo for sample in samples]
    kernels, logits, mask_feats = head_outputs(head)

    def run(which):
        feats = (
            mask_feats
            if which is ref_head
            else MaskFeatures.shared(mask_feats)
        )
        return which.loss_by_feat(kernels, logits, feats, gt_instances, metas)

    def forward_backward(which):
        losses = run(which)
        sum(losses.values()).backward()
        return losses

    with torch.enable_grad():
        ref_losses, our_losses = run(ref_head), run(head)
    print('losses (mmdet, ours, relative difference):')
    worst = 0.0
    for name in ('loss_mask', 'loss_cls'):
        ref_value, our_value = ref_losses[name].item(), our_losses[name].item()
        rel = abs(our_value - ref_value) / abs(ref_value)
        worst = max(worst, rel)
        print(f'  {name}: {ref_value:.6f} {our_value:.6f} {rel:.1e}')

    rows = []
    for label, fn in (
        ('loss_by_feat', run),
        ('loss_by_feat + backward', forward_backward),
    ):
        fns = dict(mmdet=lambda: fn(ref_head), ours=lambda: fn(head))
        for order, timer in TIMING_ORDERS:
            times = timer(fns, repeats=args.repeats, grad=True)
            rows.append(
                (
                    f'{label}, {order}',
                    times['mmdet'],
                    times['ours'],
                    times['mmdet'] / times['ours'],
                )
            )
            print(f'{rows[-1][0]}: {times}', flush=True)
    print()
    print_table(
        (
            '2 images x 50 objects, 800x1216',
            'mmdet ms',
            'ours ms',
            'mmdet / ours',
        ),
        rows,
    )
    slowest = min(rows[0][3], rows[1][3])
    print(
        f'\ntargets and losses: {slowest:.2f}x faster, the lower of the two '
        f'orders (goal: >= 3x); losses within {worst:.1e} relative '
        f'(goal: 1e-4)'
    )


if __name__ == '__main__':
    main()
