"""A full training iteration against mmdet 3.3's SOLOv2.

Times ``model.train_step(data, optim_wrapper)``: data preprocessing,
forward, grid targets, losses, backward, gradient clipping and the
optimizer step, on the same weights and the same batch:

* R50 (``configs/solov2/solov2_r50_fpn_1x_coco.py`` against mmdet's
  ``solov2_r50_fpn_1x_coco.py``): 2 images of 800x1216 with 50 objects each
  (ellipses whose sizes cover every level's scale range, as in
  ``bench_targets.py``), the config's SGD with gradient clipping.
* the quick-start model
  (``configs/quickstart/solov2-light_r18_fpn_shapes.py``):
  8 synthetic shapes images of 256x256 (the quick-start data's generator),
  the config's AdamW with gradient clipping. mmdet ships no such config:
  its model is built from ours with the mask-feature neck moved into mmdet's
  head as ``mask_feature_head`` (``mmdet_equivalent_model_cfg``); every
  other setting is the same, and the weights load one to one.

Each in fp32 (mmengine's ``OptimWrapper``) and under bf16 autocast
(``mmsolo.BF16OptimWrapper``, used for both models: it only wraps the
forward pass in ``torch.autocast``). The first step of each model, from the
same weights, compares the losses; every timed step then starts from the
state after that step (weights, buffers and optimizer state restored,
untimed). Timed interleaved and one after the other; a goal counts the
lower of the two ratios (goal: >= 1.5x). The median minor page faults of
each model's steps (counted around the timed calls) are printed; glibc's
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` / ``MALLOC_TOP_PAD_``
environment variables change them for both models alike.

    python benchmarks/bench_train_step.py [--repeats 3]
        [--models r50 quickstart] [--precisions fp32 bf16]
"""

import argparse
import copy
import os
import os.path as osp
import resource
import sys
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from common import TIMING_ORDERS, print_table, quiet_init_logs  # noqa: E402,E501
from support import (  # noqa: E402
    build_paired_from_mmsolo_config,
    build_paired_solov2,
    mmsolo_config_path,
)

from mmsolo.datasets.synthetic_shapes import make_image  # noqa: E402
from mmsolo.engine import BF16OptimWrapper  # noqa: E402,F401 (registers it)
from mmsolo.models.layers import masks_to_boxes  # noqa: E402
from mmsolo.testing import demo_batch, random_gt_boxes  # noqa: E402

R50_CONFIG = 'solov2/solov2_r50_fpn_1x_coco.py'
QUICKSTART_CONFIG = 'quickstart/solov2-light_r18_fpn_shapes.py'
R50_SHAPE = (800, 1216)
R50_IMAGES, R50_OBJECTS = 2, 50
QUICKSTART_IMAGES, QUICKSTART_SIZE = 8, 256
GOAL = 1.5
WRAPPER_TYPES = dict(fp32='OptimWrapper', bf16='BF16OptimWrapper')


def uint8_images(inputs: torch.Tensor) -> List[torch.Tensor]:
    """Normalized (N, 3, H, W) inputs -> N (3, H, W) uint8 images, as a
    data loader gives them."""
    return list((inputs * 58 + 120).clamp(0, 255).round().to(torch.uint8))


def r50_data() -> dict:
    """``train_step`` data: 2 images of 800x1216, 50 ellipses each."""
    inputs, samples = demo_batch(
        [R50_SHAPE] * R50_IMAGES,
        gt_instances=random_gt_boxes(R50_IMAGES, R50_OBJECTS, R50_SHAPE, 80),
    )
    return dict(inputs=uint8_images(inputs), data_samples=samples)


def shapes_sample(
    rng: np.random.Generator,
) -> Tuple[torch.Tensor, DetDataSample]:
    """One synthetic shapes image (3, 256, 256) uint8 and its sample."""
    image, instances = make_image(rng, size=QUICKSTART_SIZE)
    masks = np.stack([inst['mask'] for inst in instances]).astype(np.uint8)
    gt = InstanceData()
    gt.bboxes = masks_to_boxes(torch.from_numpy(masks))
    gt.labels = torch.tensor([inst['category_id'] for inst in instances])
    gt.masks = BitmapMasks(masks, QUICKSTART_SIZE, QUICKSTART_SIZE)
    shape = (QUICKSTART_SIZE, QUICKSTART_SIZE)
    sample = DetDataSample(
        metainfo=dict(
            img_shape=shape, ori_shape=shape, scale_factor=(1.0, 1.0)
        )
    )
    sample.gt_instances = gt
    return torch.from_numpy(image).permute(2, 0, 1).contiguous(), sample


def quickstart_data(seed: int = 0) -> dict:
    """``train_step`` data: 8 shapes images of 256x256."""
    rng = np.random.default_rng(seed)
    images, samples = zip(
        *[shapes_sample(rng) for _ in range(QUICKSTART_IMAGES)]
    )
    return dict(inputs=list(images), data_samples=list(samples))


def optim_wrapper_for(model: torch.nn.Module, config: str, precision: str):
    """The config's optimizer (and gradient clipping) on ``model``, in an
    fp32 ``OptimWrapper`` or a ``BF16OptimWrapper``."""
    cfg = copy.deepcopy(
        Config.fromfile(mmsolo_config_path(config)).optim_wrapper
    )
    cfg.pop('device_type', None)
    cfg.type = WRAPPER_TYPES[precision]
    with DefaultScope.overwrite_default_scope('mmsolo'):
        return build_optim_wrapper(model, cfg)


class Trainee:
    """A model, its optimizer wrapper and the state every timed step starts
    from."""

    def __init__(self, model: torch.nn.Module, optim_wrapper) -> None:
        self.model = model.train()
        self.optim_wrapper = optim_wrapper
        self.saved = None

    def step(self, data: dict) -> Dict[str, torch.Tensor]:
        """One ``train_step``; its logged losses."""
        return self.model.train_step(data, self.optim_wrapper)

    def save(self) -> None:
        """Keep the current weights, buffers and optimizer state."""
        self.saved = (
            copy.deepcopy(self.model.state_dict()),
            copy.deepcopy(self.optim_wrapper.state_dict()),
        )

    def restore(self) -> None:
        """Back to the state of the last :meth:`save`."""
        self.model.load_state_dict(self.saved[0])
        self.optim_wrapper.load_state_dict(self.saved[1])


def paired_trainees(name: str, precision: str) -> Tuple[Trainee, Trainee]:
    """mmdet's and our model of ``name`` (``'r50'`` or ``'quickstart'``)
    with the same weights, each with its optimizer."""
    torch.manual_seed(0)
    if name == 'r50':
        config = R50_CONFIG
        reference, ours = build_paired_solov2(
            mmsolo_config=mmsolo_config_path(config), seed=0, kernel_scale=5
        )
    else:
        config = QUICKSTART_CONFIG
        reference, ours = build_paired_from_mmsolo_config(
            mmsolo_config_path(config), seed=0, kernel_scale=5
        )
    return (
        Trainee(reference, optim_wrapper_for(reference, config, precision)),
        Trainee(ours, optim_wrapper_for(ours, config, precision)),
    )


def first_steps(trainees: Dict[str, Trainee], data: dict) -> float:
    """One step of each from the same weights; print the losses and return
    their largest relative difference. Saves each trainee's state after it.
    """
    logs = {name: trainee.step(data) for name, trainee in trainees.items()}
    worst = 0.0
    for key in ('loss_mask', 'loss_cls', 'loss'):
        ref, ours = (
            float(logs[name][key].detach()) for name in ('mmdet', 'ours')
        )
        rel = abs(ours - ref) / abs(ref)
        worst = max(worst, rel)
        print(
            f'  {key}: mmdet {ref:.6f} ours {ours:.6f} relative '
            f'difference {rel:.1e}'
        )
    for trainee in trainees.values():
        trainee.save()
    return worst


def minor_faults() -> int:
    """Minor page faults of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_pair(
    name: str, precision: str, data: dict, repeats: int
) -> Tuple[List[tuple], float]:
    """Table rows (one per timing order) and the loss difference."""
    reference, ours = paired_trainees(name, precision)
    trainees = dict(mmdet=reference, ours=ours)
    print(f'{name} {precision}: first step losses', flush=True)
    worst = first_steps(trainees, data)
    faults: Dict[str, List[int]] = {key: [] for key in trainees}

    def counted_step(key: str, trainee: Trainee) -> Callable[[], object]:
        def step() -> None:
            before = minor_faults()
            trainee.step(data)
            faults[key].append(minor_faults() - before)

        return step

    fns: Dict[str, Callable[[], object]] = {
        key: counted_step(key, trainee) for key, trainee in trainees.items()
    }
    setup = {key: trainee.restore for key, trainee in trainees.items()}
    rows = []
    for order, timer in TIMING_ORDERS:
        times = timer(fns, repeats=repeats, grad=True, setup=setup)
        rows.append(
            (
                name,
                precision,
                order,
                times['mmdet'],
                times['ours'],
                times['mmdet'] / times['ours'],
            )
        )
        print(f'  {order}: {times}', flush=True)
    for key, counts in faults.items():
        print(
            f'  {key}: median {int(np.median(counts))} page faults per step',
            flush=True,
        )
    return rows, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument(
        '--models',
        nargs='+',
        default=['r50', 'quickstart'],
        choices=['r50', 'quickstart'],
    )
    parser.add_argument(
        '--precisions',
        nargs='+',
        default=['fp32', 'bf16'],
        choices=['fp32', 'bf16'],
    )
    args = parser.parse_args()
    quiet_init_logs()
    malloc_env = {
        k: v for k, v in os.environ.items() if k.startswith('MALLOC_')
    }
    print(
        f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
        f'malloc settings {malloc_env or "glibc defaults"}'
    )
    makers = dict(r50=r50_data, quickstart=quickstart_data)
    rows, goals = [], []
    for name in args.models:
        data = makers[name]()
        for precision in args.precisions:
            pair_rows, worst = time_pair(name, precision, data, args.repeats)
            rows += pair_rows
            goals.append(
                (name, precision, min(r[-1] for r in pair_rows), worst)
            )
    print()
    print_table(
        ('model', 'precision', 'timed', 'mmdet ms', 'ours ms', 'mmdet / ours'),
        rows,
    )
    print()
    for name, precision, ratio, worst in goals:
        verdict = 'MET' if ratio >= GOAL else 'NOT MET'
        print(
            f'train step, {name} {precision}: {ratio:.2f}x faster, the '
            f'lower of the two orders (goal: >= {GOAL}x): {verdict}; '
            f'losses within {worst:.1e} relative'
        )


if __name__ == '__main__':
    main()
