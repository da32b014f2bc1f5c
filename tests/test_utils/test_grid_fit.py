"""mmsolo.utils.grid_fit: SOLOv2 scale ranges and grids fitted to a data
set's instances (the rule, the resize read from the pipeline, the config
overrides and the child config)."""

import inspect
import json
import math
import os

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmsolo.datasets import write_split
from mmsolo.datasets.synthetic_shapes import ShapeSizes
from mmsolo.models import SOLOv2Head
from mmsolo.registry import MODELS
from mmsolo.testing import demo_batch, random_gt_boxes
from mmsolo.utils.grid_fit import (
    GRID_LIMITS,
    MIN_AREA_TOLERANCE,
    MIN_LEVEL_SHARE,
    OVERLAP,
    PAPER_NUM_GRIDS,
    PAPER_POS_SCALE,
    PAPER_SCALE_RANGES,
    PAPER_STRIDES,
    GridFitError,
    coco_quantile,
    coco_shares,
    count_uncovered,
    fit_grids,
    fit_num_grids,
    fit_ranges,
    render_child_config,
    write_child_config,
)
from mmsolo.utils.instance_scales import train_resize

QUICKSTART = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'
R50_1X = 'configs/solov2/solov2_r50_fpn_1x_coco.py'
LIGHT_MS = 'configs/solov2/solov2-light_r50_fpn_ms-3x_coco.py'


def coco_file(path, scales, width=1333, height=800, per_image=20):
    """A COCO file of square boxes of ``scales`` in images of ``width`` x
    ``height`` (masks filling 3/4 of their box)."""
    images, annotations = [], []
    for index, scale in enumerate(scales):
        image_id = index // per_image + 1
        if index % per_image == 0:
            images.append(dict(id=image_id, width=width, height=height))
        annotations.append(
            dict(
                id=index + 1,
                image_id=image_id,
                category_id=1,
                bbox=[0, 0, float(scale), float(scale)],
                area=0.75 * float(scale) ** 2,
                iscrowd=0,
            )
        )
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=annotations), f)
    return str(path)


def coco_like_scales(num, seed=0):
    """sqrt-areas drawn from the module's model of COCO after its 1x
    resize: log-normal through its 41% / 75% quantiles at 32 / 96 px."""
    normal = torch.distributions.Normal(0.0, 1.0)
    z_small = normal.icdf(torch.tensor(0.41)).item()
    z_medium = normal.icdf(torch.tensor(0.75)).item()
    sigma = math.log(3) / (z_medium - z_small)
    mu = math.log(32) - z_small * sigma + math.log(800 / 480)
    rng = np.random.default_rng(seed)
    return np.clip(np.exp(rng.normal(mu, sigma, num)), 2, 1300)


def test_the_defaults_are_the_heads():
    defaults = inspect.signature(SOLOv2Head).parameters
    assert tuple(defaults['scale_ranges'].default) == PAPER_SCALE_RANGES
    assert tuple(defaults['num_grids'].default) == PAPER_NUM_GRIDS
    assert tuple(defaults['strides'].default) == PAPER_STRIDES
    assert defaults['pos_scale'].default == PAPER_POS_SCALE


def test_the_coco_model_holds_its_anchors():
    # 41% under 32 px and 75% under 96 px at the original size.
    assert coco_quantile(32 * 800 / 480) == pytest.approx(0.41)
    assert coco_quantile(96 * 800 / 480) == pytest.approx(0.75)
    shares = coco_shares(5)
    assert len(shares) == 5 and all(0 < s < 1 for s in shares)
    # Fewer levels: the paper's first ones, the last open-ended.
    assert coco_shares(4)[:3] == pytest.approx(shares[:3])
    assert coco_shares(4)[3] == pytest.approx(1 - coco_quantile(192))


def test_the_paper_fits_coco_like_data_and_the_rule_gives_it_back(
    tmp_path,
):
    """On instances drawn like COCO's, the paper's config fits (no change)
    and the rule's ranges are the paper's within a tenth."""
    scales = coco_like_scales(6000)
    ann = coco_file(tmp_path / 'coco.json', scales)
    fit = fit_grids(Config.fromfile(R50_1X), ann)
    assert fit.fits, fit.problems
    assert fit.changes == {}
    assert fit.resize == 'Resize scale=(1333, 800) keep_ratio=True'
    fitted = fit_ranges(fit.scales, 5)
    for (low, _), (paper_low, _) in zip(fitted[1:], PAPER_SCALE_RANGES[1:]):
        assert low == pytest.approx(paper_low, rel=0.1)
    assert fitted[0][0] == 1


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('num_levels', [2, 3, 4, 5, 6])
def test_fitted_ranges_cover_every_instance(seed, num_levels):
    rng = np.random.default_rng(seed)
    samples = [
        np.exp(rng.uniform(np.log(0.5), np.log(3), 300)),  # sub-pixel
        np.exp(rng.normal(np.log(300), 0.1, 300)),  # one size
        np.concatenate([rng.uniform(3, 6, 100), rng.uniform(900, 3000, 50)]),
        np.full(20, 17.0),
    ]
    for scales in samples:
        ranges = fit_ranges(scales, num_levels, spread=(0.8, 1.25))
        assert len(ranges) == num_levels
        assert count_uncovered(scales, ranges) == 0
        assert count_uncovered(scales * 0.8, ranges) == 0
        assert count_uncovered(scales * 1.25, ranges) == 0
        lows = [low for low, _ in ranges]
        assert lows == sorted(set(lows))
        assert [high for _, high in ranges[:-1]] == [
            OVERLAP * low for low in lows[1:]
        ]


def test_grids_follow_the_typical_object_within_limits():
    scales = np.exp(
        np.random.default_rng(0).uniform(np.log(4), np.log(400), 2000)
    )
    ranges = fit_ranges(scales, 5)
    grids = fit_num_grids(scales, ranges, 800, 0.2, 4)
    assert grids == sorted(grids, reverse=True)
    assert all(GRID_LIMITS[0] <= grid <= GRID_LIMITS[1] for grid in grids)
    for (low, high), grid in zip(ranges, grids):
        typical = np.median(scales[(scales >= low) & (scales <= high)])
        cell = 800 / grid
        # The cell is no larger than the centre region unless a limit (or
        # the level's feature size) stops the grid.
        assert cell <= 0.2 * typical or grid in (*GRID_LIMITS, 50, 25)


def test_resizes_read_from_the_pipelines():
    fixed = train_resize(
        Config.fromfile(R50_1X).train_dataloader.dataset.pipeline
    )
    assert fixed.factors(640, 480) == pytest.approx((800 / 480,) * 2)
    assert fixed.factors(1000, 200) == pytest.approx((1.333, 1.333))
    stretch = train_resize(
        [dict(type='Resize', scale=(512, 256), keep_ratio=False)]
    )
    assert stretch.factors(1024, 1024) == (0.5, 0.25)
    multi = train_resize(
        Config.fromfile(LIGHT_MS).train_dataloader.dataset.pipeline
    )
    assert multi.scale == (768, 432)
    assert multi.spread == pytest.approx((352 / 432, 512 / 432))
    assert 'RandomChoiceResize of 6 scales' in multi.description
    assert 'mid scale (768, 432)' in multi.description
    nested = train_resize(
        [
            dict(
                type='mmsolo.CachedTransforms',
                transforms=[
                    dict(type='LoadImageFromFile'),
                    dict(
                        type='RandomResize',
                        scale=(1000, 600),
                        ratio_range=(0.5, 1.5),
                        keep_ratio=True,
                    ),
                ],
            )
        ]
    )
    assert nested.scale == (1000, 600)
    assert nested.spread == (0.5, 1.5)
    two = train_resize(
        [dict(type='RandomResize', scale=[(1333, 640), (1333, 800)])]
    )
    assert two.scale == (1333, 720)
    none = train_resize(
        Config.fromfile(QUICKSTART).train_dataloader.dataset.pipeline
    )
    assert none.factors(256, 256) == (1.0, 1.0)
    assert 'no resize' in none.description
    with pytest.raises(GridFitError, match='scale'):
        train_resize([dict(type='Resize', keep_ratio=True)])


def test_resized_scales_are_what_the_assigner_sees(tmp_path):
    ann = coco_file(tmp_path / 'a.json', [30, 60], width=640, height=480)
    fit = fit_grids(Config.fromfile(R50_1X), ann)
    assert fit.scales == pytest.approx([50, 100])
    assert fit.image_side == pytest.approx(1066.67, rel=1e-3)


@pytest.fixture(scope='module')
def tiny_objects(tmp_path_factory):
    """4-16 px shapes in 512 px images."""
    root = str(tmp_path_factory.mktemp('tiny'))
    sizes = ShapeSizes(min_size=4, max_size=16, min_shapes=5, max_shapes=20)
    return write_split(root, 'train', 12, 0, 512, sizes)


def test_tiny_objects_get_ranges_grids_and_mask_areas(tiny_objects):
    cfg = Config.fromfile(QUICKSTART)
    fit = fit_grids(cfg, tiny_objects)
    assert not fit.fits
    assert any('starved' in problem for problem in fit.problems)
    head = fit.changes['model']['mask_head']
    assert set(head) == {'scale_ranges', 'num_grids', 'strides'}
    assert fit.proposed_uncovered == 0
    # The quick start's minimum mask areas (8 pixels at 1/4 scale) drop
    # most of them at test time; the proposed ones keep them.
    assert fit.dropped > 0.5 * fit.num_instances
    assert fit.proposed_dropped <= MIN_AREA_TOLERANCE * fit.num_instances
    assert fit.proposed.num_grids[0] == GRID_LIMITS[1]
    # The proposal fits by its own measure.
    cfg.merge_from_dict(fit.changes)
    again = fit_grids(cfg, tiny_objects)
    assert again.fits, again.problems


@pytest.mark.parametrize('num_levels', [2, 3, 5])
def test_another_number_of_levels_builds_and_trains(tiny_objects, num_levels):
    cfg = Config.fromfile(QUICKSTART)
    fit = fit_grids(cfg, tiny_objects, num_levels=num_levels)
    model_changes = fit.changes['model']
    assert model_changes['neck']['num_outs'] == num_levels
    assert len(model_changes['mask_head']['strides']) == num_levels
    if num_levels < 4:
        assert model_changes['neck']['end_level'] == num_levels - 1
        assert model_changes['mask_feature_neck'] == dict(
            end_level=num_levels - 1
        )
    else:
        assert 'mask_feature_neck' not in model_changes
    cfg.merge_from_dict(fit.changes)
    model = MODELS.build(cfg.model)
    inputs, samples = demo_batch(
        [(128, 128)] * 2,
        gt_instances=random_gt_boxes(2, 4, (128, 128), 3, 4, 100),
    )
    losses = model.loss(inputs, samples)
    assert all(torch.isfinite(value) for value in losses.values())
    assert model.mask_head.num_levels == num_levels


def test_huge_objects_move_to_coarse_grids(tmp_path):
    """Objects of 200-360 px in 512 px images: the coarsest level takes
    the largest in COCO's share, the levels below stand an octave apart
    (the finest left empty: the data is narrower than the pyramid), the
    grids are coarse, and the written config is then left as it is."""
    ann = coco_file(tmp_path / 'h.json', np.linspace(200, 360, 40), 512, 512)
    fit = fit_grids(Config.fromfile(QUICKSTART), ann)
    assert not fit.fits
    assert fit.counts[0] == 0  # the config's finest level gets nothing
    assert fit.proposed_uncovered == 0
    top_share = fit.proposed_counts[-1] / fit.num_instances
    assert fit.target_shares[-1] / 2 <= top_share <= 2 * fit.target_shares[-1]
    lows = [low for low, _ in fit.proposed.scale_ranges]
    for low, next_low in zip(lows[1:], lows[2:]):
        assert abs(next_low - OVERLAP * low) <= 1
    assert fit.proposed_counts[0] == 0 and min(fit.proposed_counts[1:]) > 0
    assert all(GRID_LIMITS[0] <= g <= 16 for g in fit.proposed.num_grids)
    child = tmp_path / 'child.py'
    write_child_config(fit, QUICKSTART, str(child))
    again = fit_grids(Config.fromfile(str(child)), ann)
    assert again.fits, again.problems


def test_the_child_config_loads_with_the_overrides(tiny_objects, tmp_path):
    fit = fit_grids(Config.fromfile(QUICKSTART), tiny_objects, num_levels=3)
    out = tmp_path / 'nested' / 'child.py'
    text = write_child_config(fit, QUICKSTART, str(out), 'python x.py')
    assert out.read_text() == text
    assert os.listdir(out.parent) == ['child.py']  # no temporary file left
    assert "_base_ = '" in text and '# by: python x.py' in text
    child = Config.fromfile(str(out))
    head = child.model.mask_head
    assert [tuple(r) for r in head.scale_ranges] == list(
        fit.proposed.scale_ranges
    )
    assert list(head.num_grids) == fit.proposed.num_grids
    assert list(head.strides) == fit.proposed.strides
    assert child.model.neck.num_outs == 3
    assert head.num_classes == 3  # the parent's settings stay
    assert render_child_config(fit, QUICKSTART, str(out), 'python x.py') == (
        text
    )


def test_errors_name_the_culprit(tmp_path):
    cfg = Config.fromfile(QUICKSTART)
    missing = str(tmp_path / 'none.json')
    with pytest.raises(GridFitError, match=f'{missing}: no such'):
        fit_grids(cfg, missing)
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": [], "annotations": [}')
    with pytest.raises(GridFitError, match='bad.json: not JSON \\(line 1'):
        fit_grids(cfg, str(bad))
    odd = tmp_path / 'odd.json'
    odd.write_text(
        json.dumps(
            dict(
                images=[dict(id=1, width=10, height=10)],
                annotations=[dict(id=7, image_id=2, bbox=[0, 0, 2, 2])],
            )
        )
    )
    with pytest.raises(GridFitError, match=r'annotations\[0\] \(id 7\)'):
        fit_grids(cfg, str(odd))
    sizeless = tmp_path / 'sizeless.json'
    sizeless.write_text(json.dumps(dict(images=[dict(id=1)], annotations=[])))
    with pytest.raises(GridFitError, match=r'images\[0\] \(id 1\)'):
        fit_grids(cfg, str(sizeless))
    cfg.model.mask_head.type = 'mmdet.YOLACTProtonet'
    with pytest.raises(GridFitError, match='model.mask_head is YOLACT'):
        fit_grids(cfg, missing)
    with pytest.raises(GridFitError, match='num_levels=1'):
        fit_grids(Config.fromfile(QUICKSTART), missing, num_levels=1)


def test_masks_without_box_or_area_are_read(tmp_path):
    """``bbox`` and ``area`` come from the segmentation where absent."""
    polygon = [[2, 2, 12, 2, 12, 10, 2, 10]]
    ann = tmp_path / 'poly.json'
    ann.write_text(
        json.dumps(
            dict(
                images=[dict(id=1, width=64, height=64)],
                annotations=[
                    dict(id=1, image_id=1, segmentation=polygon),
                    dict(id=2, image_id=1, segmentation=polygon, iscrowd=1),
                ],
            )
        )
    )
    fit = fit_grids(Config.fromfile(QUICKSTART), str(ann))
    assert fit.num_instances == 1  # the crowd one is left out
    assert fit.scales[0] == pytest.approx(math.sqrt(10 * 8), rel=0.1)


@pytest.mark.parametrize(
    'factor,starved', [(0.5, False), (0.8, False), (1, False), (3, True)]
)
def test_a_level_is_starved_under_the_minimum_share(tmp_path, factor, starved):
    """The paper's ranges scaled by ``factor`` on COCO-like instances: the
    config fits while every level takes at least MIN_LEVEL_SHARE of the
    instances, however far its shares are from COCO's."""
    ann = coco_file(tmp_path / 'coco.json', coco_like_scales(6000))
    cfg = Config.fromfile(R50_1X)
    cfg.model.mask_head.scale_ranges = [
        (1 if low == 1 else int(low * factor), int(high * factor))
        for low, high in PAPER_SCALE_RANGES[:-1]
    ] + [(int(PAPER_SCALE_RANGES[-1][0] * factor), 4096 * factor)]
    fit = fit_grids(cfg, ann)
    shares = [count / fit.num_instances for count in fit.counts]
    assert fit.fits == (min(shares) >= MIN_LEVEL_SHARE), (shares, fit.problems)
    assert fit.fits != starved, (shares, fit.problems)
    if starved:
        assert any(p.endswith('starved') for p in fit.problems)


def test_grids_are_bounded_by_the_level_features():
    """Head level 0 is FPN level 0 halved (stride 8 for mask stride 4),
    the last one takes the stride of the one before it: a 256 px image
    gives grids of at most 32, 32, 16, 16."""
    scales = np.array([5.0, 8, 10, 12, 14])
    assert fit_num_grids(scales, fit_ranges(scales, 4), 256, 0.2, 4) == [
        32,
        32,
        16,
        16,
    ]
    # A level of smaller objects above one of larger ones still gets no
    # finer grid than the level below.
    scales = np.array([20.0, 30, 150, 160])
    # 800 / (0.2 * 155) -> 26 for the first level.
    assert fit_num_grids(scales, [(100, 200), (1, 50)], 800, 0.2, 4) == [
        26,
        26,
    ]
