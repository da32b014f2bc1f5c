"""The merge of sliced inference on crops (``tile_merge``): the IoU it
counts from cropped masks, the mask NMS it runs on that IoU, and the RLE
it encodes from the crops equal what the full (n, H, W) masks give, which
the merge never makes; and a test run's sliced model takes the masks'
format its metrics read."""

import pytest
import torch
from mmdet.structures.mask import encode_mask_results
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmsolo.models.layers.nms import mask_iou_matrix
from mmsolo.models.task_modules import build_test_cfg
from mmsolo.models.task_modules.solov2_post_processor import (
    SOLOv2PostProcessor,
)
from mmsolo.models.test_time_augs import tile_merge
from mmsolo.models.test_time_augs.sliced_model import use_sliced_inference

HEIGHT, WIDTH = 60, 90
NMS_CFGS = [
    dict(nms_type='matrix', kernel='gaussian', sigma=2.0),
    dict(nms_type='matrix', kernel='linear', sigma=2.0),
    dict(nms_type='hard', iou_thr=0.3),
    dict(nms_type='soft', sigma=0.5),
    dict(nms_type='fast', iou_thr=0.3),
]


def random_tile_pieces(seed: int, per_tile: int = 6, num_classes: int = 2):
    """Pieces of random blobs (ellipses with holes punched) predicted on
    each tile of a 2 x 3 grid, many of them overlapping; returns
    ``(pieces, tiles)``."""
    g = torch.Generator().manual_seed(seed)
    tiles = tile_merge.slice_grid(HEIGHT, WIDTH, 40, 0.4)
    pieces = []
    for index, (y0, x0, y1, x1) in enumerate(tiles):
        h, w = y1 - y0, x1 - x0
        ys, xs = torch.meshgrid(
            torch.arange(h), torch.arange(w), indexing='ij'
        )
        masks = []
        for _ in range(per_tile):
            cy, cx = (
                torch.rand(2, generator=g) * torch.tensor([h, w])
            ).tolist()
            ry, rx = (4 + torch.rand(2, generator=g) * 10).tolist()
            blob = ((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2 <= 1
            blob &= torch.rand(h, w, generator=g) > 0.1
            masks.append(blob)
        instances = InstanceData(
            masks=torch.stack(masks),
            labels=torch.randint(0, num_classes, (per_tile,), generator=g),
            scores=torch.rand(per_tile, generator=g) * 0.9 + 0.1,
        )
        pieces += tile_merge.tile_pieces(instances, (y0, x0, y1, x1), index)
    return pieces, tiles


def full_masks(pieces):
    return tile_merge.pasted_masks(pieces, (HEIGHT, WIDTH))


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_group_iou_is_the_iou_of_the_full_masks(seed):
    pieces, _ = random_tile_pieces(seed)
    assert torch.equal(
        tile_merge.group_iou(pieces), mask_iou_matrix(full_masks(pieces))
    )


@pytest.mark.parametrize('nms_cfg', NMS_CFGS)
@pytest.mark.parametrize('seed', [0, 2])
def test_nms_across_tiles_equals_the_nms_of_the_full_masks(nms_cfg, seed):
    """Where every group of overlapping pieces spans tiles, the NMS across
    tiles keeps what the model's mask NMS keeps on the full masks of all
    pieces, with the same scores to the bit."""
    pieces, _ = random_tile_pieces(seed)
    for group in tile_merge.overlap_groups(pieces):
        tiles = frozenset().union(*(pieces[i].tiles for i in group))
        assert len(group) == 1 or len(tiles) > 1
    cfg = build_test_cfg(dict(nms_cfg, filter_thr=0.05, max_per_img=1000))
    kept = tile_merge.nms_across_tiles(pieces, cfg)
    masks = full_masks(pieces)
    scores, _, _, keep = SOLOv2PostProcessor.mask_nms(
        masks,
        torch.tensor([p.label for p in pieces]),
        torch.tensor([p.score for p in pieces], dtype=torch.float32),
        masks.sum((1, 2)),
        cfg,
    )
    expected = {
        (pieces[i].box, pieces[i].label, score)
        for i, score in zip(keep.tolist(), scores.tolist())
    }
    assert {(p.box, p.label, p.score) for p in kept} == expected
    # The NMS removed or decayed some.
    assert expected != {(p.box, p.label, p.score) for p in pieces}


@pytest.mark.parametrize('seed', [0, 3])
def test_rle_masks_are_the_encoded_bitmaps(seed):
    pieces, tiles = random_tile_pieces(seed)
    cfg = build_test_cfg(dict(NMS_CFGS[0], max_per_img=12))
    bitmap = tile_merge.merge_tile_instances(
        pieces, tiles, (HEIGHT, WIDTH), cfg
    )
    rle = tile_merge.merge_tile_instances(
        pieces, tiles, (HEIGHT, WIDTH), cfg, mask_format='rle'
    )
    assert len(bitmap) == 12
    assert rle.masks == encode_mask_results(bitmap.masks.numpy())
    for key in ('labels', 'scores', 'bboxes'):
        assert torch.equal(rle[key], bitmap[key])


def test_no_piece_gives_no_rle_mask():
    cfg = build_test_cfg(NMS_CFGS[0])
    result = tile_merge.merge_tile_instances(
        [], [(0, 0, 10, 10)], (10, 10), cfg, mask_format='rle'
    )
    assert len(result) == 0 and result.masks == []


def test_a_bad_mask_format_is_named():
    with pytest.raises(ValueError, match='mask_format'):
        tile_merge.paste_instances([], (4, 4), build_test_cfg(None), 'png')


def sliced_test_cfg(evaluator) -> Config:
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='mmdet.Resize', scale=(64, 64), keep_ratio=True),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='PackDetInputs'),
    ]
    return Config(
        dict(
            model=dict(type='SOLOv2'),
            test_dataloader=dict(dataset=dict(pipeline=pipeline)),
            test_evaluator=evaluator,
        )
    )


@pytest.mark.parametrize(
    'evaluator, mask_format',
    [
        (dict(type='mmsolo.EmptySafeCocoMetric'), 'rle'),
        ([dict(type='CocoMetric'), dict(type='mmdet.CocoMetric')], 'rle'),
        (dict(metrics=[dict(type='CocoMetric')]), 'rle'),
        (dict(type='mmdet.LVISMetric'), 'bitmap'),
        ([dict(type='CocoMetric'), dict(type='DumpDetResults')], 'bitmap'),
    ],
)
def test_a_sliced_test_run_takes_the_masks_its_metrics_read(
    evaluator, mask_format
):
    """RLE only where every metric reads it; the whole image's ground
    truth loaded as polygons, not (n, H, W) bitmaps."""
    cfg = sliced_test_cfg(evaluator)
    use_sliced_inference(cfg, 32)
    assert cfg.model.mask_format == mask_format
    image_pipeline = cfg.test_dataloader.dataset.pipeline
    assert [step['type'] for step in image_pipeline] == [
        'LoadImageFromFile',
        'LoadAnnotations',
        'PackDetInputs',
    ]
    assert image_pipeline[1]['poly2mask'] is False
    assert 'poly2mask' not in cfg.model.tile_pipeline[1]
    cfg = sliced_test_cfg(evaluator)
    use_sliced_inference(cfg, 32, mask_format='bitmap')
    assert cfg.model.mask_format == 'bitmap'


def test_use_sliced_inference_names_a_bad_mask_format():
    with pytest.raises(ValueError, match='mask_format'):
        use_sliced_inference(
            sliced_test_cfg(dict(type='CocoMetric')), 32, mask_format='rgb'
        )
