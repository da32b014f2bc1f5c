"""Sliced inference's geometry and merge: the tiles of a large image, the
instances predicted on each tile kept compactly, and their merge into the
instances of the whole image.

The merge, in order:

1. every tile's instance becomes a *piece*: its label, score, tile, and
   its mask cropped to its tight box with the box's place in the image
   (no full-size mask: memory grows with the pieces' boxes, not with the
   number of pieces times the image);
2. pieces of one class from two different tiles, both with pixels in the
   region the two tiles share, are *linked* when their masks agree there:
   their intersection over the smaller (``'ios'``) or over the union
   (``'iou'``) of their pixels inside the shared region is above
   ``merge_thr`` (in that region both tiles see the same pixels, so the
   two halves of an object cut by a tile's border agree there, whatever
   they cover outside it; each pair of tiles compares all its pieces at
   once, their masks laid on the shared region, so this step's memory
   is bounded by the tile and the pieces a tile has); linked pieces,
   transitively, become one instance: the union of their masks, the
   highest of their scores;
3. the model's own mask NMS (its ``test_cfg``: ``nms_type``, ``filter_thr``)
   runs again on each group of same-class instances whose boxes overlap
   and which come from more than one tile, on their IoU counted pair by
   pair from the crops where two boxes meet (:func:`group_iou`; the NMS's
   rule on a given IoU, :meth:`SOLOv2PostProcessor.iou_nms`: no (k, h, w)
   masks of the group); a group within one tile has been through that NMS
   on its tile already, so its scores stay;
4. the ``max_per_img`` best instances become the output: their masks
   pasted into (n, H, W) bool masks (``mask_format='bitmap'``), or each
   encoded to COCO's RLE from its crop, one (H, W) plane at a time
   (``'rle'``: what a COCO metric reads; no (n, H, W) array, so the
   merge's memory stays that of the crops); their boxes: the tile's own
   box for an instance of one piece, the box of the merged mask
   (:func:`instance_boxes`, the ``test_cfg``'s ``mask_box`` mode) for a
   merged one.

With one tile (an image no larger than a tile) nothing is linked and no
group spans two tiles: the result is the tile's prediction.
"""

from numbers import Integral, Real
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from mmsolo.utils.crop_rle import Box, encode_crops
from ..task_modules import instance_boxes
from ..task_modules.solov2_post_processor import (
    SOLOv2PostProcessor,
    empty_instances,
)

MERGE_METRICS = ('ios', 'iou')
MASK_FORMATS = ('bitmap', 'rle')


def positive_int(value, name: str) -> int:
    """``value`` as an int, or a ValueError naming ``name``."""
    if not isinstance(value, Integral) or isinstance(value, bool):
        raise ValueError(f'{name} must be a whole number, got {value!r}')
    if value < 1:
        raise ValueError(f'{name} must be at least 1, got {value}')
    return int(value)


def slice_sizes(slice_size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    """``(height, width)`` of the tiles from ``slice_size``: one number
    (square tiles) or ``(height, width)``.

    Raises:
        ValueError: naming ``slice_size``.
    """
    if isinstance(slice_size, Sequence) and not isinstance(slice_size, str):
        if len(slice_size) != 2:
            raise ValueError(
                'slice_size must be one number or (height, width), '
                f'got {slice_size!r}'
            )
        height, width = slice_size
    else:
        height = width = slice_size
    return (
        positive_int(height, 'slice_size'),
        positive_int(width, 'slice_size'),
    )


def check_overlap(overlap) -> float:
    """``overlap`` as a float in [0, 1), or a ValueError naming it."""
    if not isinstance(overlap, Real) or isinstance(overlap, bool):
        raise ValueError(f'slice overlap must be a number, got {overlap!r}')
    if not 0 <= overlap < 1:
        raise ValueError(
            f'slice overlap is a fraction of the tile, in [0, 1); got '
            f'{overlap}'
        )
    return float(overlap)


def axis_starts(length: int, size: int, overlap: float) -> List[int]:
    """Starts of tiles of ``size`` (at most ``length``) along an axis of
    ``length``: a step of ``size`` less ``round(overlap * size)`` (at
    least 1), the last tile moved back to end at ``length``."""
    size = min(size, length)
    step = max(1, size - round(overlap * size))
    starts = list(range(0, length - size, step))
    return starts + [length - size]


def slice_grid(
    height: int,
    width: int,
    slice_size: Union[int, Sequence[int]],
    overlap: float = 0.2,
) -> List[Box]:
    """The tiles of an image of ``height`` x ``width``, row by row.

    Every tile has the slice size (clipped to the image: an image smaller
    than a tile gives one tile, the image); neighbours share
    ``round(overlap * size)`` pixels or more along each axis (more where
    the last row or column of tiles is moved back to end at the image's
    border); together they cover the image.

    Args:
        height (int): Image height.
        width (int): Image width.
        slice_size (int or tuple[int, int]): Tile side, or ``(height,
            width)``.
        overlap (float): In [0, 1), the fraction of the tile's side shared
            by neighbours.

    Returns:
        list[tuple[int, int, int, int]]: ``(y0, x0, y1, x1)`` of each tile,
        ends exclusive.

    Raises:
        ValueError: naming the argument out of range.
    """
    height = positive_int(height, 'image height')
    width = positive_int(width, 'image width')
    size_h, size_w = slice_sizes(slice_size)
    overlap = check_overlap(overlap)
    tile_h, tile_w = min(size_h, height), min(size_w, width)
    return [
        (y0, x0, y0 + tile_h, x0 + tile_w)
        for y0 in axis_starts(height, size_h, overlap)
        for x0 in axis_starts(width, size_w, overlap)
    ]


class Piece(NamedTuple):
    """One instance of one tile (or, after the merge, of the image), its
    mask cropped to its tight box.

    ``box`` is ``(y0, x0, y1, x1)`` of ``crop`` in the image; ``tiles``
    the tiles it was seen on; ``pred_box`` (x0, y0, x1, y1) in the image,
    the box its tile's prediction gave it (None once merged: the box then
    comes from the merged mask).
    """

    label: int
    score: float
    box: Box
    crop: np.ndarray  # (y1 - y0, x1 - x0) bool
    tiles: frozenset
    pred_box: Optional[np.ndarray]


def intersect(a: Box, b: Box) -> Optional[Box]:
    """The intersection of two regions, None when empty."""
    box = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return box if box[0] < box[2] and box[1] < box[3] else None


def crop_view(piece: Piece, region: Box) -> np.ndarray:
    """``piece``'s mask over ``region``, a region inside its box."""
    y0, x0 = piece.box[:2]
    return piece.crop[
        region[0] - y0 : region[2] - y0, region[1] - x0 : region[3] - x0
    ]


def tile_pieces(
    instances: InstanceData, tile: Box, tile_index: int
) -> List[Piece]:
    """The pieces of a tile's prediction (``masks`` (n, h, w) bool at the
    tile's size, ``labels``, ``scores``, ``bboxes``); instances with an
    empty mask are dropped."""
    masks = instances.masks.detach().cpu().numpy().astype(bool, copy=False)
    if len(masks) == 0:
        return []
    labels = instances.labels.detach().cpu().tolist()
    scores = instances.scores.detach().float().cpu().tolist()
    boxes = instances.get('bboxes')
    offset = np.array([tile[1], tile[0], tile[1], tile[0]], np.float32)
    if boxes is not None:
        boxes = boxes.detach().float().cpu().numpy() + offset
    rows, cols = masks.any(2), masks.any(1)
    pieces = []
    for i in np.flatnonzero(rows.any(1)):
        y0, x0 = rows[i].argmax(), cols[i].argmax()
        y1 = len(rows[i]) - rows[i][::-1].argmax()
        x1 = len(cols[i]) - cols[i][::-1].argmax()
        pieces.append(
            Piece(
                label=labels[i],
                score=scores[i],
                box=(tile[0] + y0, tile[1] + x0, tile[0] + y1, tile[1] + x1),
                crop=masks[i, y0:y1, x0:x1].copy(),
                tiles=frozenset((tile_index,)),
                pred_box=None if boxes is None else boxes[i],
            )
        )
    return pieces


def components(count: int, pairs: Sequence[Tuple[int, int]]) -> List[list]:
    """The connected components of ``count`` nodes linked by ``pairs``,
    each a list of nodes in increasing order, ordered by their first."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: Dict[int, list] = {}
    for i in range(count):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def shared_masks(pieces: List[Piece], shared: Box) -> np.ndarray:
    """(k, h * w) float32 masks of ``pieces`` inside the region ``shared``
    (h x w): each piece's pixels there, zeros elsewhere."""
    height, width = shared[2] - shared[0], shared[3] - shared[1]
    masks = np.zeros((len(pieces), height, width), np.float32)
    for k, piece in enumerate(pieces):
        region = intersect(piece.box, shared)
        if region is not None:
            masks[
                k,
                region[0] - shared[0] : region[2] - shared[0],
                region[1] - shared[1] : region[3] - shared[1],
            ] = crop_view(piece, region)
    return masks.reshape(len(pieces), -1)


def agreements(
    first: List[Piece], second: List[Piece], shared: Box, metric: str
) -> np.ndarray:
    """(m, n) how much the masks of ``first`` (m pieces of one tile) and
    ``second`` (n pieces of another) agree inside ``shared``, the region
    the two tiles share: the intersection over the smaller (``'ios'``) or
    over the union (``'iou'``) of each pair's pixels there; 0 where
    either has none there. Every pixel two pieces of different tiles
    share lies in ``shared``."""
    a, b = shared_masks(first, shared), shared_masks(second, shared)
    if a.shape[1] >= 2**24:  # float32 counts are exact below this
        a, b = a.astype(np.float64), b.astype(np.float64)
    inter = a @ b.T
    area_a, area_b = a.sum(1)[:, None], b.sum(1)[None, :]
    if metric == 'ios':
        denominator = np.minimum(area_a, area_b)
    else:
        denominator = area_a + area_b - inter
    return np.divide(
        inter, denominator, out=np.zeros_like(inter), where=denominator > 0
    )


def boxes_overlap(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(n, m) whether each region (n, 4) overlaps each of ``others`` (m,
    4), ``(y0, x0, y1, x1)``, ends exclusive."""
    return (
        (boxes[:, None, :2] < others[None, :, 2:])
        & (others[None, :, :2] < boxes[:, None, 2:])
    ).all(-1)


def neighbour_tiles(tiles: List[Box]) -> List[Tuple[int, int]]:
    """Pairs ``(a, b)``, ``a < b``, of tiles that overlap (a row of the
    tiles' overlaps at a time: no (T, T) matrix)."""
    grid = np.array(tiles, np.int64).reshape(-1, 4)
    pairs = []
    for a in range(len(grid)):
        later = boxes_overlap(grid[a : a + 1], grid[a + 1 :])[0]
        pairs += [(a, a + 1 + int(b)) for b in np.flatnonzero(later)]
    return pairs


def linked_pieces(
    pieces: List[Piece],
    tiles: List[Box],
    merge_thr: float,
    metric: str,
) -> List[Tuple[int, int]]:
    """Pairs of pieces (indices) from two different tiles, of one class,
    whose masks agree above ``merge_thr`` in the region the two tiles
    share (:func:`agreements`)."""
    if not pieces:
        return []
    boxes = np.array([p.box for p in pieces], np.int64).reshape(-1, 4)
    labels = np.array([p.label for p in pieces])
    owner = np.array([next(iter(p.tiles)) for p in pieces])
    pairs = []
    for ta, tb in neighbour_tiles(tiles):
        shared = intersect(tiles[ta], tiles[tb])
        # Only pieces with their box in the shared region can agree there.
        inside = boxes_overlap(boxes, np.array([shared]))[:, 0]
        in_a = np.flatnonzero((owner == ta) & inside)
        in_b = np.flatnonzero((owner == tb) & inside)
        if len(in_a) == 0 or len(in_b) == 0:
            continue
        first, second = [pieces[i] for i in in_a], [pieces[j] for j in in_b]
        agree = agreements(first, second, shared, metric)
        linked = (agree > merge_thr) & (
            labels[in_a][:, None] == labels[in_b][None, :]
        )
        pairs += [(int(in_a[i]), int(in_b[j])) for i, j in np.argwhere(linked)]
    return pairs


def union_piece(members: List[Piece]) -> Piece:
    """One piece from linked pieces: the union of their masks, their
    highest score; no tile box (it comes from the merged mask)."""
    if len(members) == 1:
        return members[0]
    y0 = min(p.box[0] for p in members)
    x0 = min(p.box[1] for p in members)
    y1 = max(p.box[2] for p in members)
    x1 = max(p.box[3] for p in members)
    crop = np.zeros((y1 - y0, x1 - x0), bool)
    for p in members:
        crop[p.box[0] - y0 : p.box[2] - y0, p.box[1] - x0 : p.box[3] - x0] |= (
            p.crop
        )
    return Piece(
        label=members[0].label,
        score=max(p.score for p in members),
        box=(y0, x0, y1, x1),
        crop=crop,
        tiles=frozenset().union(*(p.tiles for p in members)),
        pred_box=None,
    )


def merge_pieces(
    pieces: List[Piece],
    tiles: List[Box],
    merge_thr: float = 0.5,
    metric: str = 'ios',
) -> List[Piece]:
    """The pieces of all tiles merged across the tiles' borders (steps 1-2
    of the module docstring), in the order of their first piece."""
    if metric not in MERGE_METRICS:
        raise ValueError(
            f'merge_metric must be one of {MERGE_METRICS}, got {metric!r}'
        )
    pairs = linked_pieces(pieces, tiles, merge_thr, metric)
    return [
        union_piece([pieces[i] for i in group])
        for group in components(len(pieces), pairs)
    ]


def overlap_groups(pieces: List[Piece]) -> List[list]:
    """Groups (indices) of same-class pieces linked by overlapping boxes,
    transitively: no mask of one group overlaps a mask of another of its
    class, so a mask NMS of all of them is that of each group."""
    boxes = np.array([p.box for p in pieces], np.int64).reshape(-1, 4)
    labels = np.array([p.label for p in pieces])
    pairs = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        # Row blocks bound the (block, members) overlap matrix.
        for start in range(0, len(members), 1024):
            rows = members[start : start + 1024]
            hits = np.argwhere(boxes_overlap(boxes[rows], boxes[members]))
            pairs += [(rows[i], members[j]) for i, j in hits]
    return components(len(pieces), pairs)


def group_iou(members: List[Piece]) -> torch.Tensor:
    """(k, k) float32 mask IoU of ``members``, counted from their crops:
    for each pair whose boxes overlap, the pixels both crops hold where
    the boxes meet; 0 for the others, 1 on the diagonal. The counts are
    exact and the division is :func:`mask_iou_matrix`'s (float32 areas,
    ``inter / (a + b - inter)``), so the IoU is bit-identical to that of
    the members' (k, H, W) masks, which are never made."""
    count = len(members)
    areas = torch.tensor(
        [int(np.count_nonzero(p.crop)) for p in members], dtype=torch.float32
    )
    boxes = np.array([p.box for p in members], np.int64).reshape(-1, 4)
    first, second = np.nonzero(np.triu(boxes_overlap(boxes, boxes), 1))
    inter = torch.tensor(
        [
            int(
                np.count_nonzero(
                    crop_view(members[i], region)
                    & crop_view(members[j], region)
                )
            )
            for i, j in zip(first.tolist(), second.tolist())
            for region in [intersect(members[i].box, members[j].box)]
        ],
        dtype=torch.float32,
    )
    first, second = torch.from_numpy(first), torch.from_numpy(second)
    union = areas[first] + areas[second] - inter
    pair_iou = torch.where(
        union > 0, inter / union.clamp(min=1e-12), inter.new_zeros(())
    )
    iou = torch.eye(count)
    iou[first, second] = pair_iou
    iou[second, first] = pair_iou
    return iou


def nms_across_tiles(pieces: List[Piece], test_cfg: ConfigDict) -> List[Piece]:
    """The model's mask NMS (``test_cfg``) on every group of overlapping
    same-class pieces seen on more than one tile (step 3), on their IoU
    (:func:`group_iou`); the others keep their scores. Returns the kept
    pieces, in their order, with their new scores."""
    scores = {i: p.score for i, p in enumerate(pieces)}
    for group in overlap_groups(pieces):
        members = [pieces[i] for i in group]
        if len(frozenset().union(*(p.tiles for p in members))) < 2:
            continue
        new_scores, _, keep = SOLOv2PostProcessor.iou_nms(
            group_iou(members),
            torch.tensor([p.label for p in members]),
            torch.tensor([p.score for p in members], dtype=torch.float32),
            test_cfg,
        )
        for i in group:
            del scores[i]
        for k, score in zip(keep.tolist(), new_scores.tolist()):
            scores[group[k]] = score
    return [
        pieces[i]._replace(score=score) for i, score in sorted(scores.items())
    ]


def piece_boxes(pieces: List[Piece], test_cfg: ConfigDict) -> torch.Tensor:
    """(n, 4) float32 ``(x0, y0, x1, y1)`` boxes of the pieces in the
    image: a tile's own box, or that of the merged mask as ``test_cfg``'s
    ``mask_box`` derives it (no ``mask_box_thr``: the tiles'
    probabilities are gone); a box of a crop shifted by the crop's place
    is the box of the full mask."""
    cfg = dict(test_cfg, mask_box_thr=None)
    boxes = []
    for p in pieces:
        if p.pred_box is not None:
            boxes.append(torch.as_tensor(p.pred_box, dtype=torch.float32))
            continue
        box = instance_boxes(torch.from_numpy(p.crop)[None], None, cfg)[0]
        boxes.append(box + box.new_tensor([p.box[1], p.box[0]] * 2))
    return torch.stack(boxes)


def pasted_masks(
    pieces: List[Piece], image_shape: Tuple[int, int]
) -> torch.Tensor:
    """(n, H, W) bool masks of ``pieces`` on the image."""
    masks = torch.zeros((len(pieces), *image_shape), dtype=torch.bool)
    for k, p in enumerate(pieces):
        masks[k, p.box[0] : p.box[2], p.box[1] : p.box[3]] = torch.from_numpy(
            p.crop
        )
    return masks


def encoded_masks(
    pieces: List[Piece], image_shape: Tuple[int, int]
) -> List[dict]:
    """COCO RLE (``{'size': [H, W], 'counts': bytes}``) of each piece's
    mask on the image, encoded from its crop (:func:`encode_crops`: one
    reused (H, W) plane)."""
    return encode_crops(((p.box, p.crop) for p in pieces), image_shape)


def check_mask_format(mask_format: str) -> str:
    """``mask_format``, or a ValueError naming it."""
    if mask_format not in MASK_FORMATS:
        raise ValueError(
            f'mask_format must be one of {MASK_FORMATS}, got {mask_format!r}'
        )
    return mask_format


def paste_instances(
    pieces: List[Piece],
    image_shape: Tuple[int, int],
    test_cfg: ConfigDict,
    mask_format: str = 'bitmap',
) -> InstanceData:
    """The ``max_per_img`` (test_cfg; <= 0: all) best pieces, by
    descending score (ties in piece order), as the image's instances:
    ``masks`` ((n, H, W) bool, or with ``mask_format='rle'`` a list of n
    COCO RLE dicts, :func:`encoded_masks`), ``labels`` (n,), ``scores``
    (n,) float32, ``bboxes`` (n, 4); on the CPU."""
    check_mask_format(mask_format)
    if not pieces:
        results = empty_instances(torch.zeros(0), image_shape)
        if mask_format == 'rle':
            results.masks = []
        return results
    scores = torch.tensor([p.score for p in pieces], dtype=torch.float32)
    scores, order = torch.sort(scores, descending=True, stable=True)
    max_num = test_cfg.get('max_per_img', -1)
    if 0 < max_num < len(order):
        scores, order = scores[:max_num], order[:max_num]
    kept = [pieces[i] for i in order.tolist()]
    results = InstanceData()
    if mask_format == 'rle':
        results.masks = encoded_masks(kept, image_shape)
    else:
        results.masks = pasted_masks(kept, image_shape)
    results.labels = torch.tensor([p.label for p in kept], dtype=torch.long)
    results.scores = scores
    results.bboxes = piece_boxes(kept, test_cfg)
    return results


def merge_tile_instances(
    pieces: List[Piece],
    tiles: List[Box],
    image_shape: Tuple[int, int],
    test_cfg: ConfigDict,
    merge_thr: float = 0.5,
    metric: str = 'ios',
    mask_format: str = 'bitmap',
) -> InstanceData:
    """The instances of the whole image from the pieces of its tiles (the
    steps of the module docstring).

    Args:
        pieces (list[Piece]): The pieces of every tile (:func:`tile_pieces`).
        tiles (list[tuple]): The tiles, indexed by the pieces' ``tiles``.
        image_shape (tuple[int, int]): (H, W) of the image.
        test_cfg (ConfigDict): The model's checked test config (its mask
            NMS, ``max_per_img``, ``mask_box``).
        merge_thr (float): Agreement above which two pieces merge.
        metric (str): ``'ios'`` or ``'iou'`` (:func:`agreements`).
        mask_format (str): ``'bitmap'`` or ``'rle'`` (see
            :func:`paste_instances`).

    Returns:
        InstanceData: ``masks`` ((n, H, W) bool, or n RLE dicts),
        ``labels``, ``scores``, ``bboxes``, on the CPU.
    """
    merged = merge_pieces(pieces, tiles, merge_thr, metric)
    return paste_instances(
        nms_across_tiles(merged, test_cfg), image_shape, test_cfg, mask_format
    )
