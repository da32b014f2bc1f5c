"""SOLOv2 scale ranges and grids fitted to the objects of a data set.

A SOLOv2 head trains level ``i`` on the instances whose ``sqrt(w * h)``
(of the box, after the training resize) lies in ``scale_ranges[i]``, on a
``num_grids[i]`` x ``num_grids[i]`` grid whose positive cells are those the
instance's centre region (``pos_scale`` of its box) overlaps
(``mmsolo.CenterRegionGridAssigner``). Ranges copied from COCO leave
levels without instances, or instances without a level, on data whose
objects are much smaller or larger than COCO's; :func:`fit_grids` measures
that and proposes settings that fit.

**The rule.** The paper's ranges ``((1, 96), (48, 192), (96, 384), (192,
768), (384, 2048))`` put level ``i >= 1``'s lower end at ``48 * 2**(i-1)``
(an octave apart, as the levels' feature strides) and each upper end at
twice the next level's lower end (overlap factor 2). On COCO, whose
``sqrt(area)`` is modelled as log-normal (41% of the instances under 32
px, 75% under 96 px at the original size, the ``(1333, 800)`` resize of a
640 x 480 image scaling them by 800 / 480), the last lower end is the
quantile ``F(384)``: the coarsest level takes COCO's largest 8% of the
instances. The fitted ladder keeps the octave spacing and the overlap and
puts the last lower end at the data's own quantile at that share (``F``
of the paper's last lower end for the number of levels), so that the
coarsest level takes the data's largest objects in the share it takes of
COCO's, and the levels below follow an octave apart each; the first level
starts at 1 (0 for objects under a pixel) and the last one reaches past
the largest instance at the largest scale of a random resize: every
instance lies in at least one range. On data narrower than the pyramid
(all objects within an octave or two), the finest levels are left empty
rather than given large objects their features do not see whole. Fewer
levels than five keep the paper's first ones, the last level open-ended
(as the quick-start config); more extend the doubling.

Each level's grid makes the cells no larger than the centre region of its
typical object (the median scale of the instances its range takes):
``S >= side / (pos_scale * scale)`` with ``side`` the median long side of
the resized images, within :data:`GRID_LIMITS` and at most the size of the
level's feature map, never finer than the level below (the paper's
40/36/24/16/12 shape).

**What fits.** The config's ranges fit when every instance lies in one of
them and every level takes at least :data:`MIN_LEVEL_SHARE` of the
instances (a level below it is *starved*: trained on background alone),
or when they are the rule's own ladder (whose finest levels may be empty
on narrow data); then its ranges and grids are left as they are. COCO's
shares guide the proposal, not the verdict: a config whose levels all see
objects may be tuned by hand for its data in ways the shares do not
capture, and is not overridden. Separately, the head's ``strides``
are its test-time minimum mask areas (pixels at the mask-feature scale):
when they would drop more than :data:`MIN_AREA_TOLERANCE` of the instances,
each level's is lowered to keep all but :data:`MIN_AREA_QUANTILE` of the
instances it takes.
"""

import math
import os
import os.path as osp
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.config import Config

from mmsolo.fileio import write_atomically
from .instance_scales import GridFitError, read_instance_sizes, train_resize

# The paper's (and mmdet's, and SOLOv2Head's default) settings.
PAPER_SCALE_RANGES = ((1, 96), (48, 192), (96, 384), (192, 768), (384, 2048))
PAPER_NUM_GRIDS = (40, 36, 24, 16, 12)
PAPER_STRIDES = (8, 8, 16, 32, 32)
PAPER_POS_SCALE = 0.2
# Upper end of a range over the next level's lower end.
OVERLAP = 2
# Smallest and largest grid proposed.
GRID_LIMITS = (12, 64)
# Share of the instances under which a level is starved.
MIN_LEVEL_SHARE = 0.05
# Share of the instances the test-time minimum mask areas may drop before
# they are lowered, and the share lowered ones drop per level.
MIN_AREA_TOLERANCE = 0.1
MIN_AREA_QUANTILE = 0.05
# COCO's instances by sqrt(area) at the original size: share under 32 px
# and under 96 px (COCO's small / medium / large split), and the 1x
# resize (1333, 800) of its typical 640 x 480 image.
COCO_SMALL = 0.41
COCO_SMALL_OR_MEDIUM = 0.75
COCO_RESIZE = 800 / 480
MAX_LEVELS = 8


def coco_quantile(scale: float) -> float:
    """Share of COCO's instances whose ``sqrt(area)`` after the 1x resize
    is below ``scale`` (the log-normal model of the module docstring)."""
    normal = NormalDist()
    z_small = normal.inv_cdf(COCO_SMALL)
    z_medium = normal.inv_cdf(COCO_SMALL_OR_MEDIUM)
    sigma = math.log(96 / 32) / (z_medium - z_small)
    mu = math.log(32) - z_small * sigma + math.log(COCO_RESIZE)
    return normal.cdf((math.log(scale) - mu) / sigma)


def paper_lower_ends(num_levels: int) -> List[float]:
    """Lower ends of the paper's ranges of levels ``1..num_levels-1``."""
    low = PAPER_SCALE_RANGES[1][0]
    return [low * OVERLAP ** (level - 1) for level in range(1, num_levels)]


def coco_shares(num_levels: int) -> List[float]:
    """Share of COCO's instances each of ``num_levels`` levels takes with
    the paper's ranges (the last one open-ended)."""
    ends = paper_lower_ends(num_levels)
    lows = [0.0] + [coco_quantile(end) for end in ends]
    highs = [coco_quantile(OVERLAP * end) for end in ends] + [1.0]
    return [high - low for low, high in zip(lows, highs)]


@dataclass
class LevelSettings:
    """The per-level settings of a SOLOv2 head.

    Attributes:
        scale_ranges (list[tuple]): ``(low, high)`` of ``sqrt(w * h)``.
        num_grids (list[int]): S of each level's S x S grid.
        strides (list[int]): The head's ``strides``: test-time minimum mask
            area (pixels at the mask-feature scale) of each level.
    """

    scale_ranges: List[Tuple[float, float]]
    num_grids: List[int]
    strides: List[int]

    @property
    def num_levels(self) -> int:
        return len(self.num_grids)


@dataclass
class GridFit:
    """The fit of a config's SOLOv2 levels to a data set.

    Attributes:
        ann_file (str): The annotation file read.
        resize (str): The training resize the scales are taken after.
        scales (np.ndarray): (n,) ``sqrt(w * h)`` of each instance's box
            after the resize, as the assigner sees it.
        mask_areas (np.ndarray): (n,) mask area of each instance at the
            mask-feature scale (pixels).
        image_side (float): Median long side of the resized images.
        mask_stride (int): Stride of the mask features.
        pos_scale (float): The head's centre-region scale.
        current (LevelSettings): The config's settings.
        proposed (LevelSettings): The proposal (``current`` where it fits).
        target_shares (list[float]): COCO's share of each proposed level.
        counts (list[int]): Instances each current level takes.
        proposed_counts (list[int]): Instances each proposed level takes.
        uncovered (int): Instances no current range takes.
        proposed_uncovered (int): Instances no proposed range takes.
        dropped (int): Instances the current minimum mask areas drop.
        proposed_dropped (int): Those the proposed ones drop.
        below_stride (int): Instances smaller than ``mask_stride``: under
            a pixel at the mask-feature scale.
        problems (list[str]): Why the config does not fit (empty: fits).
        changes (dict): Config overrides, nested as the config
            (``{'model': {'mask_head': {...}}}``); empty when it fits.
        suggested_num_levels (int): Levels that would space the fitted
            lower ends an octave apart, as the paper's.
        num_empty (int): Annotations left out for an empty box or mask.
    """

    ann_file: str
    resize: str
    scales: np.ndarray
    mask_areas: np.ndarray
    image_side: float
    mask_stride: int
    pos_scale: float
    current: LevelSettings
    proposed: LevelSettings
    target_shares: List[float]
    counts: List[int]
    proposed_counts: List[int]
    uncovered: int
    proposed_uncovered: int
    dropped: int
    proposed_dropped: int
    below_stride: int
    problems: List[str] = field(default_factory=list)
    changes: Dict = field(default_factory=dict)
    suggested_num_levels: int = 0
    num_empty: int = 0

    @property
    def fits(self) -> bool:
        """Whether the config already fits (no change proposed)."""
        return not self.changes

    @property
    def num_instances(self) -> int:
        return len(self.scales)


def level_counts(scales: np.ndarray, ranges: Sequence[tuple]) -> List[int]:
    """Instances each range takes (both ends included, as the
    assigner)."""
    return [
        int(np.count_nonzero((scales >= low) & (scales <= high)))
        for low, high in ranges
    ]


def count_uncovered(scales: np.ndarray, ranges: Sequence[tuple]) -> int:
    """Instances that no range takes."""
    taken = np.zeros(len(scales), dtype=bool)
    for low, high in ranges:
        taken |= (scales >= low) & (scales <= high)
    return int(np.count_nonzero(~taken))


def count_dropped(
    scales: np.ndarray,
    mask_areas: np.ndarray,
    ranges: Sequence[tuple],
    min_areas: Sequence[int],
) -> int:
    """Instances whose mask area (mask-feature pixels) is not above the
    minimum area of any level that takes them: test-time post-processing
    drops such a mask on every level that learns it."""
    kept = np.zeros(len(scales), dtype=bool)
    taken = np.zeros(len(scales), dtype=bool)
    for (low, high), min_area in zip(ranges, min_areas):
        level = (scales >= low) & (scales <= high)
        taken |= level
        kept |= level & (mask_areas > min_area)
    return int(np.count_nonzero(taken & ~kept))


def head_level_strides(num_levels: int, mask_stride: int) -> List[int]:
    """Stride of each head level's input: FPN level ``i`` has stride
    ``mask_stride * 2**i``; the head halves the first and brings the last
    to the size of the one before it (``SOLOv2Head._level_inputs``)."""
    strides = [mask_stride * 2**level for level in range(num_levels)]
    strides[0] *= 2
    if num_levels > 1:
        strides[-1] = mask_stride * 2 ** (num_levels - 2)
    return strides


def fit_ranges(
    scales: np.ndarray,
    num_levels: int,
    spread: Tuple[float, float] = (1.0, 1.0),
) -> List[Tuple[int, int]]:
    """Ranges of ``num_levels`` levels by the rule of the module docstring:
    the last level's lower end at the data's quantile at COCO's share
    below the paper's last lower end, each level's below it an octave
    lower (as the feature strides), the first from 1 (0 for objects under
    a pixel), each upper end twice the next lower end, every instance
    taken at every scale of a random resize of ``spread`` (smallest,
    largest relative to the mid)."""
    log_scales = np.log(np.maximum(scales, 1e-6))
    first = 0 if scales.min() * spread[0] < 1 else 1
    top_share = coco_quantile(paper_lower_ends(num_levels)[-1])
    top = float(np.exp(np.quantile(log_scales, top_share)))
    lows = [first]
    for level in range(1, num_levels):
        value = int(round(top / OVERLAP ** (num_levels - 1 - level)))
        lows.append(max(value, lows[-1] + 1))
    last_high = max(
        PAPER_SCALE_RANGES[-1][1],
        int(math.ceil(scales.max() * spread[1])),
        OVERLAP * lows[-1],
    )
    highs = [OVERLAP * low for low in lows[1:]] + [last_high]
    return list(zip(lows, highs))


def typical_scale(scales: np.ndarray, low: float, high: float) -> float:
    """Median scale of the instances in ``[low, high]``; for a range with
    none, the middle (geometric) of its part within the data's scales."""
    inside = scales[(scales >= low) & (scales <= high)]
    if len(inside):
        return float(np.median(inside))
    start = max(low, float(scales.min()), 1.0)
    stop = min(high, float(scales.max()))
    return math.sqrt(start * stop) if stop >= start else start


def fit_num_grids(
    scales: np.ndarray,
    ranges: Sequence[tuple],
    image_side: float,
    pos_scale: float,
    mask_stride: int,
) -> List[int]:
    """Grid of each level: cells no larger than the centre region of the
    level's typical object, within :data:`GRID_LIMITS` and the level's
    feature size, non-increasing over the levels."""
    low_limit, high_limit = GRID_LIMITS
    feature_strides = head_level_strides(len(ranges), mask_stride)
    grids: List[int] = []
    for (low, high), stride in zip(ranges, feature_strides):
        region = pos_scale * typical_scale(scales, low, high)
        wanted = math.ceil(image_side / max(region, 1e-6))
        upper = max(low_limit, min(high_limit, math.ceil(image_side / stride)))
        grid = min(max(wanted, low_limit), upper)
        if grids:
            grid = min(grid, grids[-1])
        grids.append(grid)
    return grids


def fit_min_areas(
    scales: np.ndarray,
    mask_areas: np.ndarray,
    ranges: Sequence[tuple],
    current: Sequence[int],
) -> List[int]:
    """Minimum mask areas no higher than ``current`` that keep all but
    :data:`MIN_AREA_QUANTILE` of each level's instances."""
    fitted = []
    for (low, high), min_area in zip(ranges, current):
        areas = mask_areas[(scales >= low) & (scales <= high)]
        if not len(areas):
            fitted.append(int(min_area))
            continue
        keep_from = float(np.quantile(areas, MIN_AREA_QUANTILE))
        fitted.append(int(min(min_area, max(0, math.ceil(keep_from) - 1))))
    return fitted


def suggested_num_levels(scales: np.ndarray) -> int:
    """Levels whose fitted lower ends would lie an octave apart, as the
    paper's do on COCO: two more than the octaves between the data's
    quantiles at COCO's shares below the paper's second and last lower
    ends (48 and 384 px)."""
    log_scales = np.log(np.maximum(scales, 1e-6))
    first, last = (
        np.quantile(log_scales, coco_quantile(end)) for end in (48, 384)
    )
    octaves = (last - first) / math.log(OVERLAP)
    return int(min(len(PAPER_SCALE_RANGES), max(2, round(octaves) + 2)))


def _head_cfg(cfg: Config) -> dict:
    """``model.mask_head`` of a SOLOv2 config.

    Raises:
        GridFitError: no model, or a head that is not a SOLOv2 head.
    """
    model = cfg.get('model') or {}
    head = model.get('mask_head') if isinstance(model, dict) else None
    kind = str((head or {}).get('type', '')).split('.')[-1]
    if kind.lower() != 'solov2head':
        raise GridFitError(
            f'{cfg.filename or "the config"}: model.mask_head is '
            f'{kind or "missing"}, not a SOLOv2Head: the grids fitted are '
            "a SOLOv2 head's num_grids and scale_ranges"
        )
    return head


def current_settings(cfg: Config) -> Tuple[LevelSettings, float, int]:
    """The head's level settings (its defaults, the paper's, where the
    config gives none), ``pos_scale`` and the mask-feature stride."""
    head = _head_cfg(cfg)
    settings = LevelSettings(
        [tuple(r) for r in head.get('scale_ranges', PAPER_SCALE_RANGES)],
        list(head.get('num_grids', PAPER_NUM_GRIDS)),
        list(head.get('strides', PAPER_STRIDES)),
    )
    neck = cfg.model.get('mask_feature_neck') or {}
    mask_stride = int(neck.get('mask_stride', head.get('mask_stride', 4)))
    return settings, float(head.get('pos_scale', PAPER_POS_SCALE)), mask_stride


def _train_dataset(cfg: Config) -> dict:
    """The innermost dataset of ``train_dataloader`` (through wrappers'
    ``dataset``, and a ``ConcatDataset``'s first one)."""
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    while True:
        if isinstance(dataset.get('dataset'), dict):
            dataset = dataset['dataset']
        elif dataset.get('datasets'):  # ConcatDataset: the first one
            dataset = dataset['datasets'][0]
        else:
            return dataset


def config_ann_file(cfg: Config) -> str:
    """``train_dataloader.dataset``'s annotation file (joined to its
    ``data_root`` as mmengine's datasets do).

    Raises:
        GridFitError: the config names none.
    """
    dataset = _train_dataset(cfg)
    ann_file = dataset.get('ann_file')
    if not ann_file:
        raise GridFitError(
            f'{cfg.filename or "the config"}: no '
            'train_dataloader.dataset.ann_file; give the annotation file'
        )
    if osp.isabs(ann_file):
        return ann_file
    return osp.join(dataset.get('data_root') or '', ann_file)


def level_count_changes(cfg: Config, num_levels: int) -> Dict[str, dict]:
    """``model`` overrides other than the head's that ``num_levels`` head
    levels need: the FPN's ``num_outs`` (and ``end_level`` when fewer
    levels than backbone outputs), the mask-feature neck's ``end_level``
    or ``num_levels``, a panoptic semantic head's ``end_level``.

    Raises:
        GridFitError: a neck without ``num_outs`` and ``in_channels``.
    """
    model = cfg.model
    neck = model.get('neck') or {}
    if 'num_outs' not in neck or 'in_channels' not in neck:
        raise GridFitError(
            f'{cfg.filename}: model.neck has no num_outs and in_channels: '
            'the number of levels can only change with an FPN neck'
        )
    start = neck.get('start_level', 0)
    available = len(neck['in_channels']) - start
    neck_changes = dict(num_outs=num_levels)
    if num_levels < available:
        neck_changes['end_level'] = start + num_levels - 1
    elif neck.get('end_level', -1) not in (-1, len(neck['in_channels']) - 1):
        neck_changes['end_level'] = -1
    changes = dict(neck=neck_changes)
    mask_neck = model.get('mask_feature_neck') or {}
    if 'SeparateMaskFeatureNeck' in str(mask_neck.get('type', '')):
        changes['mask_feature_neck'] = dict(num_levels=num_levels)
    elif mask_neck.get('end_level', 3) > num_levels - 1:
        changes['mask_feature_neck'] = dict(end_level=num_levels - 1)
    semantic = model.get('semantic_head') or {}
    if semantic and semantic.get('end_level', 3) > num_levels - 1:
        changes['semantic_head'] = dict(end_level=num_levels - 1)
    return changes


def _share_problems(
    counts: Sequence[int], total: int, ranges: Sequence[tuple]
) -> List[str]:
    problems = []
    for level, (count, target, scale_range) in enumerate(
        zip(counts, coco_shares(len(counts)), ranges)
    ):
        share = count / total
        if share < MIN_LEVEL_SHARE:
            problems.append(
                f'level {level} {_range_text(scale_range)} takes {share:.0%} '
                f"of the instances (COCO's level {target:.0%}): starved"
            )
    return problems


def _range_text(scale_range: tuple) -> str:
    return '(' + ', '.join(f'{v:g}' for v in scale_range) + ')'


def _same_levels(
    current: LevelSettings, ranges: Sequence[tuple], grids: Sequence[int]
) -> bool:
    """Whether ``current`` has these ranges and grids."""
    return [tuple(r) for r in current.scale_ranges] == [
        tuple(r) for r in ranges
    ] and list(current.num_grids) == list(grids)


def _proposal(
    scales: np.ndarray,
    mask_areas: np.ndarray,
    current: LevelSettings,
    context: dict,
    num_levels: int,
) -> Tuple[LevelSettings, List[str], dict]:
    """The proposed settings for the instances' (n,) scales and (n,) mask
    areas (mask-feature pixels), the problems of the current settings and
    the head's overrides; ``context``: the resize's ``spread``, the
    ``image_side``, ``pos_scale`` and ``mask_stride``."""
    problems = []
    uncovered = count_uncovered(scales, current.scale_ranges)
    if uncovered:
        problems.append(f'{uncovered} instances lie in no scale range')
    if num_levels != current.num_levels:
        problems.append(
            f'{num_levels} levels asked for, the config has '
            f'{current.num_levels}'
        )
    else:
        problems += _share_problems(
            level_counts(scales, current.scale_ranges),
            len(scales),
            current.scale_ranges,
        )
    head_changes: dict = {}
    ranges, grids = current.scale_ranges, current.num_grids
    strides = [
        current.strides[min(i, current.num_levels - 1)]
        for i in range(num_levels)
    ]
    if problems:
        ranges = fit_ranges(scales, num_levels, context['spread'])
        grids = fit_num_grids(
            scales,
            ranges,
            context['image_side'],
            context['pos_scale'],
            context['mask_stride'],
        )
        if _same_levels(current, ranges, grids):
            # Levels the ladder itself leaves (nearly) empty, on data
            # narrower than the pyramid: the config is the proposal.
            problems = []
        else:
            head_changes.update(scale_ranges=tuple(ranges), num_grids=grids)
    if num_levels != current.num_levels:
        head_changes['strides'] = strides
    dropped = count_dropped(scales, mask_areas, ranges, strides)
    if dropped > MIN_AREA_TOLERANCE * len(scales):
        where = (
            ' on the proposed ranges' if 'scale_ranges' in head_changes else ''
        )
        problems.append(
            f'the minimum mask areas (strides {list(strides)}) drop '
            f'{dropped} of {len(scales)} instances at test time{where}'
        )
        strides = fit_min_areas(scales, mask_areas, ranges, strides)
        head_changes['strides'] = strides
    return (
        LevelSettings(list(ranges), list(grids), list(strides)),
        problems,
        head_changes,
    )


def fit_grids(
    cfg: Union[Config, str],
    ann_file: Optional[str] = None,
    num_levels: Optional[int] = None,
) -> GridFit:
    """Fit a SOLOv2 config's scale ranges and grids to a data set.

    Args:
        cfg (Config | str): The config (``--cfg-options`` merged), or its
            path.
        ann_file (str, optional): COCO instance annotations; default: the
            config's ``train_dataloader.dataset`` ones.
        num_levels (int, optional): Head levels to propose; default: the
            config's. Another count also changes the FPN's and the
            mask-feature neck's levels (:func:`level_count_changes`), so a
            checkpoint of the config no longer loads as a whole.

    Returns:
        GridFit: the measures, the proposal and its config overrides.

    Raises:
        GridFitError: a config without a SOLOv2 head, a missing or
            unreadable annotation file, an annotation without the fields
            that give its size, a ``num_levels`` out of 2..8.
    """
    if isinstance(cfg, str):
        cfg = Config.fromfile(cfg)
    current, pos_scale, mask_stride = current_settings(cfg)
    num_levels = num_levels or current.num_levels
    if not 2 <= num_levels <= MAX_LEVELS:
        raise GridFitError(
            f'num_levels={num_levels}: a SOLOv2 head takes 2 to '
            f'{MAX_LEVELS} levels'
        )
    ann_file = ann_file or config_ann_file(cfg)
    resize = train_resize(_train_dataset(cfg).get('pipeline'))
    sizes = read_instance_sizes(ann_file, resize)
    scales = sizes.scales
    mask_areas = sizes.mask_areas / mask_stride**2
    context = dict(
        spread=resize.spread,
        image_side=float(np.median(sizes.image_sides)),
        pos_scale=pos_scale,
        mask_stride=mask_stride,
    )
    proposed, problems, head_changes = _proposal(
        scales, mask_areas, current, context, num_levels
    )
    model_changes: dict = {}
    if num_levels != current.num_levels:
        model_changes.update(level_count_changes(cfg, num_levels))
    if head_changes:
        model_changes['mask_head'] = head_changes
    return GridFit(
        ann_file=ann_file,
        resize=resize.description,
        scales=scales,
        mask_areas=mask_areas,
        image_side=context['image_side'],
        mask_stride=mask_stride,
        pos_scale=pos_scale,
        current=current,
        proposed=proposed,
        target_shares=coco_shares(num_levels),
        counts=level_counts(scales, current.scale_ranges),
        proposed_counts=level_counts(scales, proposed.scale_ranges),
        uncovered=count_uncovered(scales, current.scale_ranges),
        proposed_uncovered=count_uncovered(scales, proposed.scale_ranges),
        dropped=count_dropped(
            scales, mask_areas, current.scale_ranges, current.strides
        ),
        proposed_dropped=count_dropped(
            scales, mask_areas, proposed.scale_ranges, proposed.strides
        ),
        below_stride=int(np.count_nonzero(scales < mask_stride)),
        problems=problems,
        changes=dict(model=model_changes) if model_changes else {},
        suggested_num_levels=suggested_num_levels(scales),
        num_empty=sizes.num_empty,
    )


# ------------------------------------------------------------------ report
def _level_rows(fit: GridFit) -> List[str]:
    rows = [
        f'{"level":>5}  {"scale range":>13} {"grid":>4} {"inst.":>6}  '
        f'{"share":>5}  |  {"scale range":>13} {"grid":>4} {"inst.":>6}  '
        f'{"share":>5} {"COCO":>5}'
    ]
    total = fit.num_instances
    for level in range(max(fit.current.num_levels, fit.proposed.num_levels)):
        left = right = ''
        if level < fit.current.num_levels:
            left = (
                f'{_range_text(fit.current.scale_ranges[level]):>13} '
                f'{fit.current.num_grids[level]:>4} '
                f'{fit.counts[level]:>6}  '
                f'{fit.counts[level] / total:>5.0%}'
            )
        if level < fit.proposed.num_levels:
            right = (
                f'{_range_text(fit.proposed.scale_ranges[level]):>13} '
                f'{fit.proposed.num_grids[level]:>4} '
                f'{fit.proposed_counts[level]:>6}  '
                f'{fit.proposed_counts[level] / total:>5.0%} '
                f'{fit.target_shares[level]:>5.0%}'
            )
        rows.append(f'{level:>5}  {left:>31}  |  {right}')
    return rows


def format_report(fit: GridFit) -> str:
    """The fit as a short text report: the instances, each level in the
    config and proposed, what no range covers, what is smaller than the
    stride, and the verdict with the overrides."""
    quantiles = np.quantile(fit.scales, [0.05, 0.25, 0.5, 0.75, 0.95])
    lines = [
        f'{fit.num_instances} instances in {fit.ann_file}'
        + (f' ({fit.num_empty} empty ones left out)' if fit.num_empty else ''),
        f'scales sqrt(w*h) after {fit.resize}; median image side '
        f'{fit.image_side:.0f} px',
        '  quantiles 5/25/50/75/95%: '
        + ' / '.join(f'{q:.1f}' for q in quantiles)
        + ' px',
        f"{fit.below_stride} instances smaller than the mask features' "
        f'stride ({fit.mask_stride} px): under a pixel in their mask '
        'targets',
        '',
        f'{"":>5}  {"config":>31}  |  proposed (COCO: its share on the '
        "paper's ranges)",
        *_level_rows(fit),
        '',
        f'instances no range covers: config {fit.uncovered}, proposed '
        f'{fit.proposed_uncovered}',
        f'instances the test-time minimum mask areas drop (strides '
        f'{fit.current.strides} -> {fit.proposed.strides}): config '
        f'{fit.dropped}, proposed {fit.proposed_dropped}',
    ]
    if fit.suggested_num_levels != fit.proposed.num_levels:
        lines.append(
            f"the data's spread would suit {fit.suggested_num_levels} "
            'levels (--num-levels; it changes the FPN and the mask-feature '
            'neck too)'
        )
    lines.append('')
    if fit.fits:
        lines.append('The config fits the data: no change.')
    else:
        lines += ['The config does not fit the data:']
        lines += [f'  - {problem}' for problem in fit.problems]
        lines += ['Proposed overrides:', format_overrides(fit.changes)]
    return '\n'.join(lines)


# ------------------------------------------------------------ child config
def _python(value, indent: int) -> str:
    """A config value as Python source, dicts as ``dict(...)``."""
    pad = ' ' * indent
    if isinstance(value, dict):
        if not value:
            return 'dict()'
        items = [
            f'{pad}    {key}={_python(item, indent + 4)},'
            for key, item in value.items()
        ]
        return 'dict(\n' + '\n'.join(items) + f'\n{pad})'
    if isinstance(value, tuple):
        inner = ', '.join(_python(item, indent) for item in value)
        return f'({inner},)' if len(value) == 1 else f'({inner})'
    if isinstance(value, list):
        return '[' + ', '.join(_python(item, indent) for item in value) + ']'
    if isinstance(value, (np.integer, np.floating)):
        return repr(value.item())
    return repr(value)


def format_overrides(changes: dict) -> str:
    """Config overrides as the top-level assignments of a config file."""
    return '\n'.join(
        f'{key} = {_python(value, 0)}' for key, value in changes.items()
    )


def render_child_config(
    fit: GridFit, parent: str, out_file: str, command: Optional[str] = None
) -> str:
    """The text of a config that inherits ``parent`` (``_base_``, relative
    to ``out_file``'s folder) and applies ``fit.changes``."""
    base = osp.relpath(osp.abspath(parent), osp.dirname(osp.abspath(out_file)))
    header = [
        f'# SOLOv2 levels fitted to the instances of {fit.ann_file}',
        f'# (their scales after {fit.resize})',
    ]
    if command:
        header.append(f'# by: {command}')
    text = '\n'.join(header) + f'\n_base_ = {base!r}\n'
    if fit.changes:
        text += '\n' + format_overrides(fit.changes) + '\n'
    return text


def write_child_config(
    fit: GridFit, parent: str, out_file: str, command: Optional[str] = None
) -> str:
    """Write :func:`render_child_config`'s text to ``out_file`` atomically
    (its folder made); returns the text."""
    text = render_child_config(fit, parent, out_file, command)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    write_atomically(text.encode('utf-8'), out_file)
    return text


# ------------------------------------------------------------------- figure
def plot_scales(fit: GridFit, out_file: str) -> None:
    """A histogram of the instance scales (log axis) over the config's and the
    proposed ranges (one bar per level, cut at the plot's edges), written
    atomically as a PNG."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import ScalarFormatter

    figure = Figure(figsize=(9, 6), dpi=100, layout='constrained')
    FigureCanvasAgg(figure)
    hist, bars = figure.subplots(
        2, 1, sharex=True, gridspec_kw=dict(height_ratios=(3, 2))
    )
    low = max(float(fit.scales.min()), 0.5)
    high = max(float(fit.scales.max()), low * 1.01)
    hist.hist(fit.scales, bins=np.geomspace(low, high, 50), color='tab:gray')
    hist.axvline(
        fit.mask_stride,
        color='tab:red',
        linestyle=':',
        label=f'mask feature stride ({fit.mask_stride} px)',
    )
    hist.set_ylabel('instances')
    hist.set_title(f'sqrt(w*h) after {fit.resize}', fontsize=9)
    hist.legend(fontsize=8)
    labels = []
    for name, settings, colour in (
        ('config', fit.current, 'tab:blue'),
        ('proposed', fit.proposed, 'tab:green'),
    ):
        for level, (start, stop) in enumerate(settings.scale_ranges):
            labels.append(f'{name} {level} (S={settings.num_grids[level]})')
            bars.plot(
                [max(start, low / 2), min(stop, high * 2)],
                [len(labels)] * 2,
                color=colour,
                linewidth=6,
                solid_capstyle='butt',
            )
    bars.set_yticks(range(1, len(labels) + 1), labels, fontsize=8)
    bars.set_ylim(0.3, len(labels) + 0.7)
    bars.invert_yaxis()
    bars.set_xscale('log')
    bars.set_xlim(low / 2, high * 2)
    bars.xaxis.set_major_formatter(ScalarFormatter())
    bars.set_xlabel('instance scale (px)')
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png')
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    write_atomically(buffer.getvalue(), out_file)
