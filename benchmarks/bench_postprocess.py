"""Bounded post-processing.

Times the SOLOv2-R50 head's post-processing (``predict_by_feat``: candidate
selection, dynamic convolution of the candidates' kernels, maskness, Matrix
NMS, upsampling of the kept masks to the original size) on one 800x1216
input (mask features 200x304), with the category logits shifted so that
about 500, 5,000 and 50,000 scores pass ``score_thr`` after point NMS.
Ours must take at most 2x as long with 50,000 candidates as with 500;
mmdet 3.3's, which computes every candidate's mask before ``nms_pre``, is
timed beside it up to 5,000 candidates (50,000 masks of 200x304 would need
about 12 GB as float32).

    python benchmarks/bench_postprocess.py [--repeats 5]
"""

import argparse
import os.path as osp
import sys
from typing import List, Tuple

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from common import print_table, quiet_init_logs, time_interleaved  # noqa: E402,E501
from support import build_paired_solov2  # noqa: E402

from mmsolo.models.layers import MaskFeatures  # noqa: E402
from mmsolo.models.task_modules import point_nms  # noqa: E402

IMG_SHAPE = (800, 1216)
TARGETS = (500, 5000, 50000)
MMDET_MAX_CANDIDATES = 5000


def head_outputs(head, seed: int = 0) -> Tuple[List, List, torch.Tensor]:
    """Random kernels, category logits and mask features of the R50 head's
    shapes for one 800x1216 image."""
    generator = torch.Generator().manual_seed(seed)
    kernels, logits = [], []
    for grid in head.num_grids:
        kernels.append(
            torch.randn(
                1, head.kernel_out_channels, grid, grid, generator=generator
            )
            * 0.05
        )
        logits.append(
            torch.randn(
                1, head.cls_out_channels, grid, grid, generator=generator
            )
        )
    mask_feats = torch.randn(
        1,
        head.mask_feat_channels,
        IMG_SHAPE[0] // 4,
        IMG_SHAPE[1] // 4,
        generator=generator,
    )
    return kernels, logits, mask_feats


def candidates_above(head, logits: List[torch.Tensor], thr: float) -> int:
    return int(
        sum((point_nms(level.sigmoid()) > thr).sum() for level in logits)
    )


def shifted_for(head, logits, target: int, thr: float) -> List:
    """``logits`` plus the offset (found by bisection) that lets about
    ``target`` scores pass ``thr`` after point NMS."""
    low, high = -20.0, 20.0
    for _ in range(40):
        mid = (low + high) / 2
        if candidates_above(head, [x + mid for x in logits], thr) < target:
            low = mid
        else:
            high = mid
    return [x + high for x in logits]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()
    quiet_init_logs()
    test_cfg = dict(
        nms_pre=500,
        score_thr=0.1,
        mask_thr=0.5,
        filter_thr=0.05,
        kernel='gaussian',
        sigma=2.0,
        max_per_img=100,
    )
    reference, ours = build_paired_solov2(test_cfg=test_cfg)
    head, ref_head = ours.mask_head, reference.mask_head
    kernels, logits, mask_feats = head_outputs(head)
    meta = dict(
        img_shape=IMG_SHAPE,
        ori_shape=IMG_SHAPE,
        pad_shape=IMG_SHAPE,
        batch_input_shape=IMG_SHAPE,
    )
    rows, ours_ms = [], {}
    for target in TARGETS:
        shifted = shifted_for(head, logits, target, test_cfg['score_thr'])
        count = candidates_above(head, shifted, test_cfg['score_thr'])
        fns = dict(
            ours=lambda: head.predict_by_feat(
                kernels, shifted, MaskFeatures.shared(mask_feats), [meta]
            )
        )
        if count <= MMDET_MAX_CANDIDATES:
            fns['mmdet'] = lambda: ref_head.predict_by_feat(
                [k.clone() for k in kernels],
                [x.clone() for x in shifted],
                mask_feats,
                [meta],
            )
        times = time_interleaved(fns, repeats=args.repeats)
        ours_ms[target] = times['ours']
        rows.append(
            (
                count,
                times.get('mmdet', '-'),
                times['ours'],
                times['ours'] / ours_ms[TARGETS[0]],
            )
        )
        print(f'{count} candidates: {times}', flush=True)
    print()
    print_table(
        (
            'candidates above score_thr',
            'mmdet ms',
            'ours ms',
            'ours / ours at 500',
        ),
        rows,
    )
    ratio = ours_ms[TARGETS[-1]] / ours_ms[TARGETS[0]]
    print(
        f'\nbounded post-processing: 50,000 candidates take {ratio:.2f}x '
        f'the time of 500 (goal: at most 2x)'
    )


if __name__ == '__main__':
    main()
