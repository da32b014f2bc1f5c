"""Centre-region grid assignment of SOLO (sections 3.1 and 3.2 of SOLO).

Each ground-truth instance is assigned to the pyramid levels whose scale
range holds ``sqrt(w * h)`` of its box. On such a level, whose image is cut
into an S x S grid, the instance's positive cells are those whose cell
overlaps the *centre region*: the box of half-size ``pos_scale * (w/2,
h/2)`` around the mask's centre of mass, clipped to the 3 x 3 cells around
the cell of the centre itself. A positive cell takes the instance's class
and must predict its mask, downsampled to the mask-feature scale.

Each (cell, instance) pair is one positive sample: when centre regions of two
instances share a cell, the cell's class is that of the later instance, and
the cell is asked for both masks, as in the SOLO authors' and MMDetection's
implementations. ``num_pos`` counts distinct positive cells.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from torch import Tensor

from mmsolo.registry import TASK_UTILS


@dataclass
class GridTargets:
    """Targets of one image.

    Attributes:
        labels (list[Tensor]): Per level, (S*S,) class of each cell, background
            is ``num_classes``.
        pos_cells (list[Tensor]): Per level, (P,) flat index ``row * S + col``
            of each positive sample (a cell may repeat, once per instance).
        pos_instances (list[Tensor]): Per level, (P,) row of each positive
            sample's mask in ``instance_masks``.
        instance_masks (Tensor): (m, h, w) uint8 mask at the mask-feature
            scale of each instance that some level uses.
        num_pos_cells (int): Distinct positive cells over all levels.
    """

    labels: List[Tensor]
    pos_cells: List[Tensor]
    pos_instances: List[Tensor]
    instance_masks: Tensor
    num_pos_cells: int

    @property
    def mask_targets(self) -> List[Tensor]:
        """Per level, (P, h, w) uint8 mask of each positive sample."""
        return [self.instance_masks[rows] for rows in self.pos_instances]


def downsample_masks(
    masks: np.ndarray, stride: int, out_size: Tuple[int, int]
) -> np.ndarray:
    """Bilinearly downsample uint8 masks by ``stride`` (OpenCV, one mask at
    a time, as ``mmcv.imrescale``) into the top-left corner of zeros of
    ``out_size``.

    Args:
        masks (np.ndarray): (n, H, W) uint8 masks.
        stride (int): Downsampling factor.
        out_size (tuple[int, int]): (h, w) of the result.

    Returns:
        np.ndarray: (n, h, w) uint8 masks.
    """
    n, height, width = masks.shape
    new_w, new_h = int(width / stride + 0.5), int(height / stride + 0.5)
    out = np.zeros((n, *out_size), dtype=np.uint8)
    crop_h, crop_w = min(new_h, out_size[0]), min(new_w, out_size[1])
    # One 2-D resize per mask: batching masks as channels needs a transposed
    # copy of all of them, which costs 30x more than the resizes.
    for k in range(n):
        small = cv2.resize(
            masks[k], (new_w, new_h), interpolation=cv2.INTER_LINEAR
        )
        out[k, :crop_h, :crop_w] = small[:crop_h, :crop_w]
    return out


def mask_moments(
    masks: np.ndarray, boxes: Optional[np.ndarray] = None
) -> Tuple[Tensor, Tensor, Tensor]:
    """Area and (row, column) centre of mass of each mask.

    The sums are exact integers; the division is float32 in torch, as in
    MMDetection's ``center_of_mass``. With ``boxes``, a mask whose pixels
    all lie in its box (checked by counting them) is summed over the box
    only, which for objects much smaller than the image is most of the
    cost saved.

    Args:
        masks (np.ndarray): (n, H, W) uint8 0/1 masks.
        boxes (np.ndarray, optional): (n, 4) boxes (x1, y1, x2, y2).

    Returns:
        tuple[Tensor, Tensor, Tensor]: (n,) int64 areas, float32 rows and
        float32 columns (0 for an empty mask).
    """
    n = len(masks)
    area = np.zeros(n, dtype=np.int64)
    row_sums = np.zeros(n, dtype=np.int64)
    col_sums = np.zeros(n, dtype=np.int64)
    for k in range(n):
        top, left, mask = 0, 0, masks[k]
        area[k] = np.count_nonzero(mask)
        if boxes is not None:
            x1, y1, x2, y2 = boxes[k]
            top, left = max(0, int(np.floor(y1))), max(0, int(np.floor(x1)))
            crop = masks[
                k,
                top : max(top, int(np.ceil(y2))),
                left : max(left, int(np.ceil(x2))),
            ]
            if np.count_nonzero(crop) == area[k]:
                mask = crop
            else:
                top, left = 0, 0
        rows = np.arange(top, top + mask.shape[0], dtype=np.int64)
        cols = np.arange(left, left + mask.shape[1], dtype=np.int64)
        row_sums[k] = mask.sum(axis=1, dtype=np.int64) @ rows
        col_sums[k] = mask.sum(axis=0, dtype=np.int64) @ cols
    area = torch.from_numpy(area)
    normalizer = area.float().clamp(min=1e-6)
    return (
        area,
        torch.from_numpy(row_sums) / normalizer,
        torch.from_numpy(col_sums) / normalizer,
    )


@TASK_UTILS.register_module()
class CenterRegionGridAssigner:
    """Assigns instances to S x S grid cells of each level.

    Args:
        num_classes (int): Number of foreground classes.
        num_grids (Sequence[int]): S of each level.
        scale_ranges (Sequence[tuple]): (low, high) of ``sqrt(w * h)`` of the
            boxes each level takes, both ends included.
        pos_scale (float): Half-size of the centre region relative to the
            half-size of the box. Defaults to 0.2.
        mask_stride (int): Stride of the mask features. Defaults to 4.
    """

    def __init__(
        self,
        num_classes: int,
        num_grids: Sequence[int],
        scale_ranges: Sequence[Tuple[float, float]],
        pos_scale: float = 0.2,
        mask_stride: int = 4,
    ) -> None:
        if len(num_grids) != len(scale_ranges):
            raise ValueError(
                f'num_grids has {len(num_grids)} levels but scale_ranges has '
                f'{len(scale_ranges)}: give one entry per level in both'
            )
        self.num_classes = num_classes
        self.num_grids = list(num_grids)
        self.scale_ranges = [tuple(r) for r in scale_ranges]
        self.pos_scale = pos_scale
        self.mask_stride = mask_stride

    def assign(
        self,
        gt_bboxes: Tensor,
        gt_labels: Tensor,
        gt_masks: Union[np.ndarray, Tensor],
        featmap_size: Tuple[int, int],
    ) -> GridTargets:
        """Targets of one image.

        Args:
            gt_bboxes (Tensor): (n, 4) boxes (x1, y1, x2, y2) in pixels of the
                padded input.
            gt_labels (Tensor): (n,) classes.
            gt_masks (np.ndarray or Tensor): (n, H, W) 0/1 masks on the
                padded input (``BitmapMasks.masks``; a tensor is copied to
                a uint8 array, as the resizing runs in OpenCV).
            featmap_size (tuple[int, int]): (h, w) of the mask features.

        Returns:
            GridTargets: labels, positive cells and mask targets per level.
        """
        device = gt_labels.device
        feat_h, feat_w = featmap_size
        image_h = feat_h * self.mask_stride
        image_w = feat_w * self.mask_stride
        if isinstance(gt_masks, Tensor):
            gt_masks = gt_masks.to(torch.uint8).cpu().numpy()
        gt_masks = np.asarray(gt_masks, dtype=np.uint8)
        scales = torch.sqrt(
            (gt_bboxes[:, 2] - gt_bboxes[:, 0])
            * (gt_bboxes[:, 3] - gt_bboxes[:, 1])
        )
        area, center_h, center_w = mask_moments(
            gt_masks, gt_bboxes.detach().cpu().numpy()
        )
        has_pixels = (area > 0).to(device)
        center_h, center_w = center_h.to(device), center_w.to(device)
        used = [
            ((scales >= low) & (scales <= high) & has_pixels)
            for low, high in self.scale_ranges
        ]
        used_ids = torch.stack(used).any(0).nonzero().flatten().tolist()

        # Mask targets only for the instances some level uses; row[gt] is
        # the row of instance gt in instance_masks.
        row = {gt: k for k, gt in enumerate(used_ids)}
        instance_masks = torch.from_numpy(
            downsample_masks(
                gt_masks[used_ids], self.mask_stride, (feat_h, feat_w)
            )
        ).to(device)
        half_w = 0.5 * (gt_bboxes[:, 2] - gt_bboxes[:, 0]) * self.pos_scale
        half_h = 0.5 * (gt_bboxes[:, 3] - gt_bboxes[:, 1]) * self.pos_scale

        labels, pos_cells, pos_instances = [], [], []
        for level_used, num_grid in zip(used, self.num_grids):
            level = self._assign_level(
                level_used.nonzero().flatten().tolist(),
                num_grid,
                gt_labels,
                (center_h, center_w),
                (half_h, half_w),
                (image_h, image_w),
                row,
            )
            labels.append(level[0])
            pos_cells.append(level[1])
            pos_instances.append(level[2])
        num_pos_cells = sum(
            len(torch.unique(cells)) for cells in pos_cells if len(cells)
        )
        return GridTargets(
            labels, pos_cells, pos_instances, instance_masks, num_pos_cells
        )

    def _assign_level(
        self,
        gt_ids: List[int],
        num_grid: int,
        gt_labels: Tensor,
        centers: Tuple[Tensor, Tensor],
        half_sizes: Tuple[Tensor, Tensor],
        image_size: Tuple[int, int],
        row: Dict[int, int],
    ) -> Tuple[Tensor, Tensor, Tensor]:
        """Targets of one S x S level for the instances ``gt_ids`` it
        takes, given their (row, column) centres (n,), their centre-region
        half-sizes (n,) and ``row[gt]``, their rows in ``instance_masks``.

        Returns:
            tuple[Tensor]: (S*S,) labels, (P,) positive cells and (P,) rows
            of their instances.
        """
        device = gt_labels.device
        level_labels = torch.full(
            (num_grid, num_grid),
            self.num_classes,
            dtype=torch.long,
            device=device,
        )
        cells: List[Tensor] = []
        instances: List[int] = []
        cell_size = 1.0 / num_grid
        for gt in gt_ids:
            top, down = self._cell_span(
                centers[0][gt],
                half_sizes[0][gt],
                image_size[0],
                cell_size,
                num_grid,
            )
            left, right = self._cell_span(
                centers[1][gt],
                half_sizes[1][gt],
                image_size[1],
                cell_size,
                num_grid,
            )
            level_labels[top : down + 1, left : right + 1] = gt_labels[gt]
            rows = torch.arange(top, down + 1, device=device)
            cols = torch.arange(left, right + 1, device=device)
            gt_cells = (rows[:, None] * num_grid + cols[None, :]).flatten()
            cells.append(gt_cells)
            instances.extend([row[gt]] * len(gt_cells))
        level_cells = (
            torch.cat(cells)
            if cells
            else torch.zeros(0, dtype=torch.long, device=device)
        )
        return (
            level_labels.flatten(),
            level_cells,
            torch.tensor(instances, dtype=torch.long, device=device),
        )

    @staticmethod
    def _cell_span(
        center: Tensor,
        half_range: Tensor,
        image_len: int,
        cell_size: float,
        num_grid: int,
    ) -> Tuple[int, int]:
        """First and last cell (inclusive) of the centre region on one axis:
        the cells the region overlaps, within one cell of the centre's."""

        def cell_of(position: Tensor) -> int:
            return int(
                torch.div(
                    position / image_len, cell_size, rounding_mode='trunc'
                )
            )

        center_cell = cell_of(center)
        first = max(0, cell_of(center - half_range), center_cell - 1)
        last = min(num_grid - 1, cell_of(center + half_range), center_cell + 1)
        return first, last
