"""Sliced inference for images much larger than the model's training
images (aerial, microscopy, documents): the image in overlapping tiles,
each run through the model's test pipeline as an image is, the tiles'
instances merged on the whole image (an object cut by a tile's border
becomes one instance; see :mod:`mmsolo.models.test_time_augs.tile_merge`).

- :func:`sliced_predict`: one image, with a :class:`SOLOv2Inferencer` or a
  model; ``SOLOv2Inferencer(...)(images, slice_size=...)`` and
  ``tools/demo/image_demo.py --slice-size`` call it;
- :func:`use_sliced_inference`: a test run's config made to evaluate tile
  by tile (``tools/test.py --slice-size``);
- :func:`slice_grid`: the tiles of an image.
"""

import argparse
from typing import (
    Callable,
    Iterator,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import mmcv
import numpy as np
import torch.nn as nn
from mmdet.structures import DetDataSample

from mmsolo.models.test_time_augs import (
    predict_sliced,
    slice_grid,
    split_test_pipeline,
    use_sliced_inference,
)
from mmsolo.models.test_time_augs.sliced_model import build_pipeline

__all__ = [
    'add_slice_arguments',
    'check_slice_arguments',
    'slice_grid',
    'sliced_predict',
    'use_sliced_inference',
]
# The call arguments of SOLOv2Inferencer that predict tile by tile.
SLICE_KWARGS = {'slice_size', 'slice_overlap', 'slice_batch_size'}


class SlicedInputs(NamedTuple):
    """A chunk of an inferencer's inputs (files or arrays), unread, to be
    predicted tile by tile with the ``settings`` of :func:`sliced_predict`
    (``slice_size``, ``overlap``, ``batch_size``)."""

    images: list
    settings: dict


def sliced_chunks(
    inputs: list,
    batch_size: int,
    slice_size: Union[int, Sequence[int]],
    slice_overlap: float = 0.2,
    slice_batch_size: int = 1,
) -> Iterator[Tuple[list, SlicedInputs]]:
    """``(chunk, SlicedInputs)`` of each ``batch_size`` inputs: what
    :meth:`SOLOv2Inferencer.preprocess` yields with ``slice_size``."""
    settings = dict(
        slice_size=slice_size,
        overlap=slice_overlap,
        batch_size=slice_batch_size,
    )
    for start in range(0, len(inputs), batch_size):
        chunk = list(inputs[start : start + batch_size])
        yield chunk, SlicedInputs(chunk, settings)


def model_and_pipeline(
    model_or_inferencer, pipeline: Optional[Union[Callable, Sequence[dict]]]
) -> Tuple[nn.Module, Callable]:
    """The model and the tile pipeline of ``model_or_inferencer``: an
    inferencer's own (its pipeline takes arrays); for a model, ``pipeline``
    (steps taking ``dict(img=array)``, or a callable) or else its
    ``cfg``'s test pipeline (as mmdet's ``init_detector`` sets it)."""
    if isinstance(model_or_inferencer, nn.Module):
        model = model_or_inferencer
        if pipeline is None:
            cfg = getattr(model, 'cfg', None)
            if cfg is None:
                raise ValueError(
                    "sliced_predict: the model has no cfg (as mmdet's "
                    'init_detector sets); pass pipeline=, the test '
                    'pipeline of an image array'
                )
            pipeline = split_test_pipeline(
                cfg.test_dataloader.dataset.pipeline
            )[1]
    elif hasattr(model_or_inferencer, 'model'):
        model = model_or_inferencer.model
        if pipeline is None:
            pipeline = model_or_inferencer.pipeline
    else:
        raise TypeError(
            'sliced_predict: expected a SOLOv2Inferencer or a model, got '
            f'{type(model_or_inferencer).__name__}'
        )
    if not callable(pipeline):
        pipeline = build_pipeline(pipeline)
    return model, pipeline


def load_image(image: Union[str, np.ndarray]) -> Tuple[np.ndarray, dict]:
    """``(array, metainfo)`` of an image file (read as mmdet's
    ``LoadImageFromFile`` reads it: BGR) or an (H, W, C) BGR array; the
    metainfo holds ``img_path`` for a file.

    Raises:
        FileNotFoundError, ValueError: naming the file that is missing or
            is not an image.
    """
    if isinstance(image, np.ndarray):
        return image, {}
    array = mmcv.imread(image)
    if array is None:
        raise ValueError(f'sliced_predict: {image} is not an image file')
    return array, dict(img_path=image)


def sliced_predict(
    model_or_inferencer,
    image: Union[str, np.ndarray],
    slice_size: Union[int, Sequence[int]],
    overlap: float = 0.2,
    batch_size: int = 1,
    merge_thr: float = 0.5,
    merge_metric: str = 'ios',
    pipeline: Optional[Union[Callable, Sequence[dict]]] = None,
    mask_format: str = 'bitmap',
) -> DetDataSample:
    """Predict ``image`` tile by tile; the instances of the whole image.

    Tiles of ``slice_size`` (:func:`slice_grid`), each run, ``batch_size``
    at a time, through the model's test pipeline and ``test_step``;
    instances of one class from neighbouring tiles whose masks agree
    above ``merge_thr`` where the tiles overlap are merged (union of the
    masks, highest score); the model's mask NMS then runs where tiles
    meet, and its ``max_per_img`` best are kept. On an image no larger
    than a tile, the result is the model's prediction of the image.

    Args:
        model_or_inferencer: A :class:`~mmsolo.apis.SOLOv2Inferencer`, or
            a model with ``test_step`` (and a ``cfg``, or ``pipeline``).
        image (str or np.ndarray): An image file, or an (H, W, 3) BGR
            array as mmdet takes arrays.
        slice_size (int or tuple[int, int]): Tile side, or (height, width),
            in the image's pixels.
        overlap (float): Fraction of a tile's side its neighbours share,
            in [0, 1). Defaults to 0.2.
        batch_size (int): Tiles per forward pass. Defaults to 1.
        merge_thr (float): Defaults to 0.5.
        merge_metric (str): ``'ios'`` (intersection over the smaller part
            inside the tiles' shared region; the default) or ``'iou'``.
        pipeline (callable or list[dict], optional): The test pipeline of
            one tile's array, for a model without a ``cfg``.
        mask_format (str): ``'bitmap'`` ((n, H, W) bool masks, the
            default) or ``'rle'`` (a COCO RLE dict per instance, encoded
            from its crop: no (n, H, W) array, for images so large that
            it would not fit).

    Returns:
        DetDataSample: ``pred_instances`` (``masks`` (n, H, W) bool or n
        RLE dicts, ``labels``, ``scores``, ``bboxes``, on the CPU) and the
        metainfo
        ``ori_shape``, ``img_shape`` (and ``img_path`` for a file).
    """
    model, pipeline = model_and_pipeline(model_or_inferencer, pipeline)
    array, metainfo = load_image(image)
    instances = predict_sliced(
        model,
        pipeline,
        array,
        slice_size,
        overlap,
        batch_size,
        merge_thr,
        merge_metric,
        mask_format,
    )
    shape = tuple(array.shape[:2])
    sample = DetDataSample(
        metainfo=dict(metainfo, ori_shape=shape, img_shape=shape)
    )
    sample.pred_instances = instances
    return sample


def add_slice_arguments(parser: argparse.ArgumentParser) -> None:
    """The tools' options of sliced inference: ``--slice-size``,
    ``--slice-overlap``, ``--slice-batch-size`` (checked by
    :func:`check_slice_arguments`)."""
    parser.add_argument(
        '--slice-size',
        type=int,
        nargs='+',
        metavar='PIXELS',
        help='predict each image in tiles of this side (or HEIGHT WIDTH), '
        'merged on the whole image (sliced inference, for images much '
        'larger than the training images)',
    )
    parser.add_argument(
        '--slice-overlap',
        type=float,
        default=0.2,
        help='with --slice-size: the fraction of a tile its neighbours '
        'share, in [0, 1)',
    )
    parser.add_argument(
        '--slice-batch-size',
        type=int,
        default=1,
        help='with --slice-size: tiles per forward pass',
    )


def check_slice_arguments(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> None:
    """``parser.error`` naming the option if a slice option is out of
    range; ``args.slice_size`` becomes an int or (height, width)."""
    if args.slice_size is None:
        return
    if len(args.slice_size) > 2 or min(args.slice_size) < 1:
        parser.error(
            '--slice-size takes one positive side or HEIGHT WIDTH, got '
            f'{args.slice_size}'
        )
    if not 0 <= args.slice_overlap < 1:
        parser.error(
            '--slice-overlap is a fraction of the tile, in [0, 1); got '
            f'{args.slice_overlap}'
        )
    if args.slice_batch_size < 1:
        parser.error(
            f'--slice-batch-size must be at least 1, got '
            f'{args.slice_batch_size}'
        )
    size = args.slice_size
    args.slice_size = size[0] if len(size) == 1 else tuple(size)
