"""The runs of ``tools/analysis_tools/benchmark.py``: batches of a config's
test set or of synthetic images, the images-per-second loop, and the loop of
``--stages``, which times every stage of an inference with a
:class:`~mmsolo.utils.stage_timer.StageTimer`.

A batch source yields *loads*: functions that, called, run the test
pipeline on the next images and collate them (the dataset's images are read
from their files then; synthetic images are drawn beforehand, outside the
timing). The loops time what the model does with the batch, and
``--stages`` the load and the RLE encoding of the results too.

The stages of a SOLOv2 model (:data:`EAGER_STAGES`) come from forward
hooks on its data preprocessor, backbone, FPN, mask-feature neck and head
and from the marks in :class:`~mmsolo.models.task_modules.
SOLOv2PostProcessor`; those of a deployed graph (:data:`DEPLOYED_STAGES`)
from wrappers of its input padding and of its backend call, the marks of
the host's resizing and boxes (``mmsolo.deploy.results``), and a forward
hook whose remainder is the rest of the host's conversion of the graph
outputs.
"""

import copy
import functools
import itertools
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmdet.structures.mask import encode_mask_results
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from mmsolo.utils.stage_timer import StageTimer, timed_stage

Load = Callable[[], dict]

#: The stages of ``--stages`` for a PyTorch SOLOv2, in the order they run.
EAGER_STAGES = (
    'pipeline',
    'data_preprocessor',
    'backbone',
    'fpn',
    'mask_feature_neck',
    'head_forward',
    'candidates',
    'mask_probs',
    'mask_nms',
    'resize',
    'boxes',
    'rle_encode',
)
#: A PanopticSOLOv2 adds these two before ``rle_encode``.
PANOPTIC_STAGES = ('semantic_head', 'panoptic_fusion')
#: The stages of an exported graph run by ONNX Runtime or OpenVINO: the
#: graph holds the network and the post-processing; on the host, ``resize``
#: and ``boxes`` run when the image was resized (``ori_shape`` differs from
#: ``img_shape``), ``host_results`` is the rest of the conversion of the
#: graph outputs to data samples.
DEPLOYED_STAGES = (
    'pipeline',
    'data_preprocessor',
    'graph_inputs',
    'graph',
    'resize',
    'boxes',
    'host_results',
    'rle_encode',
)
# (attribute of the detector, its stage), timed by forward hooks.
_EAGER_MODULES = (
    ('data_preprocessor', 'data_preprocessor'),
    ('backbone', 'backbone'),
    ('neck', 'fpn'),
    ('mask_feature_neck', 'mask_feature_neck'),
    ('mask_head', 'head_forward'),
)


def _pipeline_batch(pipeline: Callable, images: List[np.ndarray], first: int):
    return pseudo_collate(
        [
            pipeline(dict(img=image, img_id=first + offset))
            for offset, image in enumerate(images)
        ]
    )


def synthetic_loads(
    cfg: Config, shape: Sequence[int], seed: int, batch_size: int = 1
) -> Iterator[Load]:
    """Endless loads of ``batch_size`` seeded random (H, W, 3) uint8 images
    of ``shape``, through the config's test pipeline (images from arrays,
    annotations left out). The images are drawn when the load is yielded;
    calling it runs the pipeline."""
    from mmsolo.deploy.inference import image_pipeline

    pipeline = image_pipeline(cfg, from_array=True)
    rng = np.random.default_rng(seed)
    for first in itertools.count(step=batch_size):
        images = [
            rng.integers(0, 256, size=(*shape, 3), dtype=np.uint8)
            for _ in range(batch_size)
        ]
        yield functools.partial(_pipeline_batch, pipeline, images, first)


def dataset_loads(cfg: Config, batch_size: int = 1) -> Iterator[Load]:
    """Endless loads of ``batch_size`` images of the test set, in order, the
    set repeated; calling a load reads the images and runs the pipeline
    (the test dataloader's dataset and collate function, no workers)."""
    loader_cfg = copy.deepcopy(cfg.test_dataloader)
    loader_cfg.update(batch_size=1, num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg)
    dataset, collate = loader.dataset, loader.collate_fn
    if len(dataset) == 0:
        raise ValueError(
            'the test dataset (test_dataloader.dataset) is '
            'empty; point it at images or use --synthetic'
        )
    for first in itertools.count(step=batch_size):
        indices = [(first + i) % len(dataset) for i in range(batch_size)]
        yield functools.partial(
            lambda chosen: collate([dataset[i] for i in chosen]), indices
        )


def _sync_of(device: str) -> Optional[Callable[[], None]]:
    return torch.cuda.synchronize if device == 'cuda' else None


def _autocast(device: str, amp_dtype: Optional[torch.dtype]):
    return torch.autocast(
        device,
        dtype=amp_dtype or torch.float32,
        enabled=amp_dtype is not None,
    )


def _log_progress(
    logger: MMLogger, done: int, total: int, seconds: float, device: str
) -> None:
    fps = done / seconds
    message = (
        f'Done image [{done:<3}/{total}], '
        f'fps: {fps:.1f} img/s, '
        f'times per image: {1000 / fps:.1f} ms/img'
    )
    if device == 'cuda':
        memory = torch.cuda.max_memory_allocated() // 2**20
        message += f', cuda memory: {memory} MB'
    logger.info(message)


def run_benchmark(
    model: nn.Module,
    loads: Iterator[Load],
    max_iter: int,
    num_warmup: int,
    log_interval: int,
    device: str,
    logger: MMLogger,
    amp_dtype: Optional[torch.dtype] = None,
) -> float:
    """Time ``model.test_step`` on ``max_iter`` batches after
    ``num_warmup`` (under autocast to ``amp_dtype`` if given), loading not
    counted; log the images per second every ``log_interval`` batches and
    return the overall figure."""
    timer = StageTimer(_sync_of(device))
    logger.info(f'warm-up: {num_warmup} batches')
    timed, images = 0.0, 0
    for index, load in enumerate(
        itertools.islice(loads, num_warmup + max_iter)
    ):
        batch = load()
        start = timer.now()
        with torch.no_grad(), _autocast(device, amp_dtype):
            model.test_step(batch)
        elapsed = timer.now() - start
        if index < num_warmup:
            continue
        timed += elapsed
        images += len(batch['inputs'])
        done = index + 1 - num_warmup
        if done % log_interval == 0 or done == max_iter:
            _log_progress(
                logger, images, max_iter * len(batch['inputs']), timed, device
            )
    fps = images / timed
    logger.info(
        f'Overall fps: {fps:.1f} img/s, '
        f'times per image: {1000 / fps:.1f} ms/img'
    )
    return fps


def encode_predictions(samples: Sequence) -> List[dict]:
    """What ``CocoMetric.process`` keeps of each predicted sample: boxes,
    scores and labels as NumPy arrays and the masks as RLE
    (``encode_mask_results``: pycocotools' ``mask.encode`` of each mask),
    charged to stage ``rle_encode``."""
    results = []
    with timed_stage('rle_encode'):
        for sample in samples:
            pred = sample.pred_instances
            results.append(
                dict(
                    bboxes=pred.bboxes.cpu().numpy(),
                    scores=pred.scores.cpu().numpy(),
                    labels=pred.labels.cpu().numpy(),
                    masks=encode_mask_results(
                        pred.masks.detach().cpu().numpy()
                    ),
                )
            )
    return results


def instrument(model: nn.Module, timer: StageTimer) -> Tuple[str, ...]:
    """Hook ``timer`` into ``model`` (a SOLOv2 or PanopticSOLOv2 detector,
    or a ``DeployedSOLOv2``) and return its stages, in the order they run.

    Raises:
        ValueError: the model lacks one of the parts the stages time.
    """
    from mmsolo.deploy import DeployedSOLOv2

    if isinstance(model, DeployedSOLOv2):
        timer.time_module(model.data_preprocessor, 'data_preprocessor')
        timer.time_calls(model, 'graph_inputs', 'graph_inputs')
        timer.time_calls(model, 'backend', 'graph')
        # The rest of forward: the graph outputs to data samples.
        timer.time_module(model, 'host_results')
        return DEPLOYED_STAGES
    missing = [name for name, _ in _EAGER_MODULES if not hasattr(model, name)]
    if missing:
        raise ValueError(
            f'--stages times SOLOv2 detectors; {type(model).__name__} has no '
            f'{", ".join(missing)}'
        )
    for name, stage in _EAGER_MODULES:
        timer.time_module(getattr(model, name), stage)
    if not hasattr(model, 'semantic_head'):
        return EAGER_STAGES
    timer.time_calls(model.semantic_head, 'predict', 'semantic_head')
    timer.time_calls(model, 'fuse', 'panoptic_fusion')
    return (*EAGER_STAGES[:-1], *PANOPTIC_STAGES, EAGER_STAGES[-1])


def timed_iteration(
    model: nn.Module,
    load: Load,
    timer: StageTimer,
    device: str,
    amp_dtype: Optional[torch.dtype] = None,
) -> None:
    """One iteration of ``--stages``: the load (stage ``pipeline``),
    ``model.test_step`` (its stages, and the span ``model``) and the RLE
    encoding of the predictions (stage ``rle_encode``)."""
    with timer.iteration(images=0) as record:
        with timer.stage('pipeline'):
            batch = load()
        record.images = len(batch['inputs'])
        with timer.span('model'):
            with torch.no_grad(), _autocast(device, amp_dtype):
                samples = model.test_step(batch)
        encode_predictions(samples)


def run_stage_benchmark(
    model: nn.Module,
    loads: Iterator[Load],
    max_iter: int,
    num_warmup: int,
    log_interval: int,
    device: str,
    logger: MMLogger,
    amp_dtype: Optional[torch.dtype] = None,
) -> Tuple[StageTimer, Tuple[str, ...]]:
    """Time ``max_iter`` iterations (:func:`timed_iteration`) after
    ``num_warmup`` untimed ones, stage by stage; log the end-to-end images
    per second every ``log_interval`` iterations.

    Returns:
        tuple: The timer (its ``iterations`` hold the times) and the
        model's stages (:func:`instrument`).
    """
    timer = StageTimer(_sync_of(device))
    stages = instrument(model, timer)
    logger.info(f'warm-up: {num_warmup} batches')
    try:
        for index, load in enumerate(
            itertools.islice(loads, num_warmup + max_iter)
        ):
            timed_iteration(model, load, timer, device, amp_dtype)
            if index < num_warmup:
                timer.iterations.clear()
                continue
            done = index + 1 - num_warmup
            if done % log_interval == 0 or done == max_iter:
                record = timer.iterations
                _log_progress(
                    logger,
                    sum(it.images for it in record),
                    max_iter * record[-1].images,
                    sum(it.total for it in record),
                    device,
                )
    finally:
        timer.remove_instrumentation()
    return timer, stages
