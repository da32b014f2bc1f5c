"""End-to-end predict of SOLOv2-R50 against mmdet 3.3's.

Both models come from the R50 config with the same seeded random weights
(mmsolo's through the checkpoint converter; mask kernels scaled so masks
are confident, category biases spread so that a few hundred candidates
reach Matrix NMS, as with a trained model). One 800x1333 image (padded to
800x1344), ``detector.predict`` with rescale, timed interleaved; the
results are compared: labels equal, largest score difference, masks equal
(pixels whose mmdet probability lies within 1e-5 of mask_thr are counted
apart). Timed interleaved and one after the other.

    python benchmarks/bench_e2e.py [--repeats 5]
"""

import argparse
import copy
import os.path as osp
import sys
from unittest import mock

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from common import TIMING_ORDERS, print_table, quiet_init_logs  # noqa: E402,E501
from support import build_paired_solov2, spread_class_scores  # noqa: E402

from mmsolo.registry import FUNCTIONS  # noqa: E402
from mmsolo.testing import demo_batch  # noqa: E402

IMG_SHAPE = (800, 1333)
TEST_CFG = dict(
    nms_pre=500,
    score_thr=0.1,
    mask_thr=0.5,
    filter_thr=0.05,
    kernel='gaussian',
    sigma=2.0,
    max_per_img=100,
)


def paired_models():
    reference, ours = build_paired_solov2(
        test_cfg=TEST_CFG, seed=0, kernel_scale=20
    )
    spread_class_scores([reference, ours], mean=-5.5)
    return reference, ours


def nms_input_sizes(model, inputs, samples):
    sizes = []
    original = FUNCTIONS.get('matrix_nms')

    def counting(masks, *args, **kwargs):
        sizes.append(len(masks))
        return original(masks, *args, **kwargs)

    with (
        torch.no_grad(),
        mock.patch.dict(FUNCTIONS.module_dict, {'matrix_nms': counting}),
    ):
        model.predict(inputs, copy.deepcopy(samples))
    return sizes


def compare(ref_sample, our_sample):
    ref, ours = ref_sample.pred_instances, our_sample.pred_instances
    same_labels = len(ref) == len(ours) and torch.equal(
        ref.labels.long(), ours.labels
    )
    score_diff = (
        (ref.scores - ours.scores).abs().max().item()
        if same_labels and len(ref)
        else float('nan')
    )
    mask_diff = int((ref.masks != ours.masks).sum()) if same_labels else -1
    return len(ref), same_labels, score_diff, mask_diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()
    quiet_init_logs()
    torch.manual_seed(0)
    reference, ours = paired_models()
    inputs, samples = demo_batch([IMG_SHAPE], [IMG_SHAPE], seed=3)
    print(
        f'candidates reaching Matrix NMS: '
        f'{nms_input_sizes(ours, inputs, samples)}'
    )
    with torch.no_grad():
        ref_out = reference.predict(inputs, copy.deepcopy(samples))[0]
        our_out = ours.predict(inputs, copy.deepcopy(samples))[0]
    kept, same_labels, score_diff, mask_diff = compare(ref_out, our_out)
    print(
        f'instances {kept}, labels equal {same_labels}, largest score '
        f'difference {score_diff:.2e}, differing mask pixels {mask_diff}'
    )
    fns = dict(
        mmdet=lambda: reference.predict(inputs, copy.deepcopy(samples)),
        ours=lambda: ours.predict(inputs, copy.deepcopy(samples)),
    )
    rows = []
    for order, timer in TIMING_ORDERS:
        times = timer(fns, repeats=args.repeats)
        rows.append(
            (
                f'{IMG_SHAPE[0]}x{IMG_SHAPE[1]}',
                order,
                times['mmdet'],
                times['ours'],
                times['mmdet'] / times['ours'],
            )
        )
        print(f'{order}: {times}', flush=True)
    print()
    print_table(
        ('input', 'timed', 'mmdet ms', 'ours ms', 'mmdet / ours'), rows
    )


if __name__ == '__main__':
    main()
