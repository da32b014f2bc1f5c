"""Mask AP of two merges of the same tiles' predictions: mmsolo's and
SAHI's.

    python benchmarks/sliced_merge_sahi.py --work-dir DIR
        [--slice-size 256] [--slice-overlap 0.2] [--max-per-img 500]
        [--out-json FILE]

``DIR`` is the work dir of a ``benchmarks/sliced_ap.py --work-dir DIR``
run: its trained checkpoint (``run/last_checkpoint``) and its large set
(``eval_large.py``, the config tested on it). Needs SAHI
(``pip install -r requirements/benchmark.txt``).

Every large image is cut into the same tiles (``slice_grid``) and each
tile predicted once, through the config's test pipeline, as
``tools/test.py --slice-size`` does. The tiles' instances are then merged
two ways:

- ``mmsolo``: :func:`mmsolo.models.test_time_augs.tile_merge.
  merge_tile_instances` (masks compared inside the region two tiles
  share, the model's mask NMS where tiles meet), masks as COCO RLE;
- ``sahi``: what ``sahi.predict.get_sliced_prediction`` does with a tile's
  predictions, with its default merge: each mask made a polygon
  (``get_coco_segmentation_from_bool_mask``, as SAHI's mmdet wrapper does),
  shifted to the image, then ``GreedyNMMPostprocess(match_threshold=0.5,
  match_metric='IOS', class_agnostic=False)`` (box intersection over the
  smaller box; a matched pair's masks united as polygons); no whole-image
  prediction added (``perform_standard_pred=False``: the same tiles only).

Both keep the ``--max-per-img`` best per image and are evaluated by
pycocotools (``maxDets`` 100/300/1000, as mmdet's CocoMetric). Writes mask
and box AP, the instance counts, each merge's time and the machine's CPU
flags to ``--out-json`` (default
``benchmarks/results/sliced_ap/sliced_merge_sahi-<time>.json``).
"""

import argparse
import contextlib
import io
import json
import os.path as osp
import platform
import sys
import time

from machine import cpu_flags

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MERGE_THR = 0.5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--slice-size', type=int, default=256)
    parser.add_argument('--slice-overlap', type=float, default=0.2)
    parser.add_argument('--max-per-img', type=int, default=500)
    parser.add_argument('--out-json')
    return parser.parse_args()


def load(work: str, max_per_img: int):
    """The model of ``work``'s run, its tile pipeline and the large set's
    annotation file."""
    from mmdet.apis import init_detector
    from mmengine.config import Config

    from mmsolo.models.test_time_augs.sliced_model import (
        build_pipeline,
        split_test_pipeline,
    )

    cfg = Config.fromfile(osp.join(work, 'eval_large.py'))
    cfg.model.test_cfg.max_per_img = max_per_img
    with open(osp.join(work, 'run', 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    model = init_detector(cfg, checkpoint, device='cpu')
    pipeline = build_pipeline(
        split_test_pipeline(cfg.test_dataloader.dataset.pipeline)[1]
    )
    return model, pipeline, cfg.test_evaluator.ann_file, checkpoint


def tile_predictions(model, pipeline, image, tiles) -> list:
    """Each tile's ``pred_instances``, one tile per forward pass."""
    import torch

    from mmsolo.models.test_time_augs.sliced_model import tile_batch

    predictions = []
    for index, tile in enumerate(tiles):
        with torch.no_grad():
            [sample] = model.test_step(
                tile_batch(pipeline, image, [tile], index)
            )
        predictions.append(sample.pred_instances.cpu())
    return predictions


def mmsolo_merge(model, predictions, tiles, shape) -> list:
    """COCO results of mmsolo's merge (without ``image_id``; the label
    as ``category_id``)."""
    from mmsolo.models.test_time_augs import tile_merge
    from mmsolo.models.test_time_augs.sliced_model import model_test_cfg

    pieces = []
    for index, (instances, tile) in enumerate(zip(predictions, tiles)):
        pieces += tile_merge.tile_pieces(instances, tile, index)
    merged = tile_merge.merge_tile_instances(
        pieces, tiles, shape, model_test_cfg(model), MERGE_THR, 'ios', 'rle'
    )
    results = []
    for rle, label, score, box in zip(
        merged.masks,
        merged.labels.tolist(),
        merged.scores.tolist(),
        merged.bboxes.tolist(),
    ):
        rle = dict(rle, counts=rle['counts'].decode())
        x0, y0, x1, y1 = box
        results.append(
            dict(
                category_id=label,
                score=score,
                segmentation=rle,
                bbox=[x0, y0, x1 - x0, y1 - y0],
            )
        )
    return results


def sahi_merge(predictions, tiles, shape, max_per_img: int) -> list:
    """COCO results of SAHI's default merge of the tiles' predictions (see
    the module docstring; without ``image_id``; the label as
    ``category_id``)."""
    from pycocotools import mask as mask_utils
    from sahi.postprocess.combine import GreedyNMMPostprocess
    from sahi.prediction import ObjectPrediction
    from sahi.utils.cv import get_coco_segmentation_from_bool_mask

    height, width = shape
    objects = []
    for instances, (y0, x0, _, _) in zip(predictions, tiles):
        for mask, label, score, box in zip(
            instances.masks.numpy(),
            instances.labels.tolist(),
            instances.scores.tolist(),
            instances.bboxes.tolist(),
        ):
            polygons = get_coco_segmentation_from_bool_mask(mask)
            if not polygons:
                continue
            objects.append(
                ObjectPrediction(
                    bbox=[max(0.0, v) for v in box],
                    category_id=label,
                    score=score,
                    segmentation=polygons,
                    shift_amount=[x0, y0],
                    full_shape=[height, width],
                ).get_shifted_object_prediction()
            )
    merge = GreedyNMMPostprocess(
        match_threshold=MERGE_THR, match_metric='IOS', class_agnostic=False
    )
    kept = sorted(merge(objects), key=lambda p: -p.score.value)
    results = []
    for prediction in kept[:max_per_img]:
        polygons = prediction.mask.segmentation
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
        x0, y0, x1, y1 = prediction.bbox.to_xyxy()
        results.append(
            dict(
                category_id=prediction.category.id,
                score=prediction.score.value,
                segmentation=dict(rle, counts=rle['counts'].decode()),
                bbox=[x0, y0, x1 - x0, y1 - y0],
            )
        )
    return results


def coco_ap(ann_file: str, results: list) -> dict:
    """Mask and box AP (and AP50) of ``results`` by pycocotools, with
    mmdet's CocoMetric's ``maxDets``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    figures = {}
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(ann_file)
        found = truth.loadRes(results) if results else None
        for kind in ('segm', 'bbox'):
            if found is None:
                figures.update({f'{kind}_mAP': 0.0, f'{kind}_mAP_50': 0.0})
                continue
            evaluation = COCOeval(truth, found, kind)
            evaluation.params.maxDets = [100, 300, 1000]
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
            figures[f'{kind}_mAP'] = round(float(evaluation.stats[0]), 3)
            figures[f'{kind}_mAP_50'] = round(float(evaluation.stats[1]), 3)
    return figures


def experiment(args: argparse.Namespace) -> dict:
    import mmcv
    from pycocotools.coco import COCO

    from mmsolo.models.test_time_augs.tile_merge import slice_grid

    model, pipeline, ann_file, checkpoint = load(
        args.work_dir, args.max_per_img
    )
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(ann_file)
    images = truth.dataset['images']
    # Label k is the k-th category of the set, as CocoMetric maps it.
    category_ids = sorted(truth.getCatIds())
    image_root = osp.join(osp.dirname(osp.dirname(ann_file)), 'val')
    results = dict(mmsolo=[], sahi=[])
    seconds = dict(mmsolo=0.0, sahi=0.0)
    for record in images:
        image = mmcv.imread(osp.join(image_root, record['file_name']))
        shape = image.shape[:2]
        tiles = slice_grid(*shape, args.slice_size, args.slice_overlap)
        predictions = tile_predictions(model, pipeline, image, tiles)
        merges = dict(
            mmsolo=lambda: mmsolo_merge(model, predictions, tiles, shape),
            sahi=lambda: sahi_merge(
                predictions, tiles, shape, args.max_per_img
            ),
        )
        for name, merge in merges.items():
            start = time.perf_counter()
            merged = merge()
            seconds[name] += time.perf_counter() - start
            results[name] += [
                dict(
                    r,
                    image_id=record['id'],
                    category_id=category_ids[r['category_id']],
                )
                for r in merged
            ]
    return dict(
        work_dir=args.work_dir,
        checkpoint=checkpoint,
        images=len(images),
        slice_size=args.slice_size,
        slice_overlap=args.slice_overlap,
        max_per_img=args.max_per_img,
        merges={
            name: dict(
                instances=len(found),
                merge_s=round(seconds[name], 2),
                **coco_ap(ann_file, found),
            )
            for name, found in results.items()
        },
    )


def main() -> None:
    args = parse_args()
    sys.path.insert(0, REPO)
    import sahi

    from mmsolo.fileio import dump_json_atomically

    result = experiment(args)
    result.update(
        command=' '.join(['python', *sys.argv]),
        sahi=sahi.__version__,
        python=platform.python_version(),
        machine=platform.machine(),
        cpu_flags=cpu_flags(),
    )
    print(json.dumps(result['merges'], indent=1))
    stamp = time.strftime('%Y%m%d-%H%M%S')
    out = args.out_json or osp.join(
        REPO,
        'benchmarks',
        'results',
        'sliced_ap',
        f'sliced_merge_sahi-{stamp}.json',
    )
    dump_json_atomically(result, out, indent=2)
    print(f'written: {out}')


if __name__ == '__main__':
    main()
