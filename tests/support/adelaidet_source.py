"""AdelaiDet's SOLOv2 (detectron2) rebuilt in plain PyTorch, for tests.

The module tree reproduces the state-dict keys of aim-uofa/AdelaiDet's
``SOLOv2`` on detectron2's ``build_resnet_fpn_backbone`` (an MSRA ResNet:
stride in the 1x1 conv, FrozenBN; FPN with sum fusion, no norm, biased
convs and the ``LastLevelMaxPool`` top block); the forward pass follows the
same computation: pixel normalization of BGR input, P2..P6, the instance
head's coordinate channels and grid resizing, and the mask head's sum of
P2..P5 branches (coordinates on P5); ``adelaidet_instances`` re-implements
its inference on those outputs. It shares no module with mmdet or
mmsolo, so that a converted state dict predicting the same in mmsolo shows
the conversion and the mmsolo config are right.
"""

from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

PIXEL_MEAN = (103.530, 116.280, 123.675)  # BGR, detectron2's MSRA models
STAGE_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


class FrozenBN(nn.Module):
    """Affine batch norm with fixed statistics (all four are buffers)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        for name, value in (
            ('weight', 1.0),
            ('bias', 0.0),
            ('running_mean', 0.0),
            ('running_var', 1.0),
        ):
            self.register_buffer(name, torch.full((channels,), value))

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


class ConvNorm(nn.Conv2d):
    """A bias-free conv whose norm is its child ``norm`` (detectron2's
    ``Conv2d(..., norm=...)``)."""

    def __init__(self, in_: int, out: int, k: int, stride: int = 1) -> None:
        super().__init__(in_, out, k, stride, padding=k // 2, bias=False)
        self.norm = FrozenBN(out)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(super().forward(x))


class Bottleneck(nn.Module):
    """Bottleneck with the stride in ``conv1`` (the MSRA models)."""

    def __init__(self, in_: int, mid: int, out: int, stride: int) -> None:
        super().__init__()
        if in_ != out:
            self.shortcut = ConvNorm(in_, out, 1, stride)
        self.conv1 = ConvNorm(in_, mid, 1, stride)
        self.conv2 = ConvNorm(mid, mid, 3)
        self.conv3 = ConvNorm(mid, out, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.conv2(F.relu(self.conv1(x))))
        skip = self.shortcut(x) if hasattr(self, 'shortcut') else x
        return F.relu(self.conv3(y) + skip)


class Stem(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = ConvNorm(3, 64, 7, 2)

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(F.relu(self.conv1(x)), 3, 2, 1)


class BottomUp(nn.Module):
    """``stem`` and ``res2``..``res5``; returns C2..C5."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        self.stem = Stem()
        in_ = 64
        for index, num_blocks in enumerate(STAGE_BLOCKS[depth]):
            mid, out = 64 * 2**index, 256 * 2**index
            blocks = [
                Bottleneck(
                    in_ if b == 0 else out,
                    mid,
                    out,
                    2 if b == 0 and index > 0 else 1,
                )
                for b in range(num_blocks)
            ]
            self.add_module(f'res{index + 2}', nn.Sequential(*blocks))
            in_ = out

    def forward(self, x: Tensor) -> List[Tensor]:
        x = self.stem(x)
        outs = []
        for stage in range(2, 6):
            x = getattr(self, f'res{stage}')(x)
            outs.append(x)
        return outs


class ResNetFPN(nn.Module):
    """``bottom_up`` plus ``fpn_lateral{2-5}`` / ``fpn_output{2-5}``;
    returns P2..P6 (P6: stride-2 subsampling of P5)."""

    def __init__(self, depth: int, out: int = 256) -> None:
        super().__init__()
        self.bottom_up = BottomUp(depth)
        for stage in range(2, 6):
            in_ = 256 * 2 ** (stage - 2)
            self.add_module(f'fpn_lateral{stage}', nn.Conv2d(in_, out, 1))
            self.add_module(
                f'fpn_output{stage}', nn.Conv2d(out, out, 3, padding=1)
            )

    def forward(self, x: Tensor) -> List[Tensor]:
        feats = self.bottom_up(x)
        merged = None
        outs = []
        for stage in range(5, 1, -1):
            lateral = getattr(self, f'fpn_lateral{stage}')(feats[stage - 2])
            if merged is not None:
                lateral = lateral + F.interpolate(
                    merged, scale_factor=2.0, mode='nearest'
                )
            merged = lateral
            outs.insert(0, getattr(self, f'fpn_output{stage}')(merged))
        return outs + [F.max_pool2d(outs[-1], kernel_size=1, stride=2)]


def coords_appended(x: Tensor) -> Tensor:
    """x (N, C, H, W) with x then y coordinates in [-1, 1] appended."""
    n, _, h, w = x.shape
    ys = torch.linspace(-1, 1, h, device=x.device)[:, None].expand(h, w)
    xs = torch.linspace(-1, 1, w, device=x.device)[None, :].expand(h, w)
    grid = torch.stack([xs, ys])[None].expand(n, 2, h, w)
    return torch.cat([x, grid], dim=1)


def conv_gn_relu(in_: int, out: int, k: int) -> List[nn.Module]:
    return [
        nn.Conv2d(in_, out, k, padding=k // 2, bias=False),
        nn.GroupNorm(32, out),
        nn.ReLU(),
    ]


class InsHead(nn.Module):
    """``cate_tower`` / ``kernel_tower`` (Sequential of conv, GN, ReLU),
    ``cate_pred`` and ``kernel_pred``."""

    def __init__(
        self,
        num_classes: int = 80,
        num_kernels: int = 256,
        channels: int = 512,
        num_convs: int = 4,
        in_: int = 256,
    ) -> None:
        super().__init__()
        for name, extra in (('cate', 0), ('kernel', 2)):
            layers = []
            for i in range(num_convs):
                layers += conv_gn_relu(
                    in_ + extra if i == 0 else channels, channels, 3
                )
            self.add_module(f'{name}_tower', nn.Sequential(*layers))
        self.cate_pred = nn.Conv2d(channels, num_classes, 3, padding=1)
        self.kernel_pred = nn.Conv2d(channels, num_kernels, 3, padding=1)

    def forward(
        self, feats: Sequence[Tensor], num_grids: Sequence[int]
    ) -> Tuple[List[Tensor], ...]:
        cate_preds, kernel_preds = [], []
        for feat, grid in zip(feats, num_grids):
            kernel_feat = F.interpolate(
                coords_appended(feat),
                size=grid,
                mode='bilinear',
                align_corners=False,
            )
            cate_feat = kernel_feat[:, :-2]
            kernel_preds.append(
                self.kernel_pred(self.kernel_tower(kernel_feat))
            )
            cate_preds.append(self.cate_pred(self.cate_tower(cate_feat)))
        return cate_preds, kernel_preds


class MaskHead(nn.Module):
    """``convs_all_levels.{l}.conv{j}`` (conv, GN, ReLU; 2x upsampling
    after each conv of levels above 0) and ``conv_pred`` (1x1, GN, ReLU)."""

    def __init__(
        self,
        num_masks: int = 256,
        channels: int = 128,
        in_: int = 256,
        num_levels: int = 4,
    ) -> None:
        super().__init__()
        self.convs_all_levels = nn.ModuleList()
        for level in range(num_levels):
            branch = nn.Sequential()
            for j in range(max(level, 1)):
                first_in = in_ + 2 * (level == 3)
                branch.add_module(
                    f'conv{j}',
                    nn.Sequential(
                        *conv_gn_relu(channels if j else first_in, channels, 3)
                    ),
                )
                if level:
                    branch.add_module(
                        f'upsample{j}',
                        nn.Upsample(
                            scale_factor=2,
                            mode='bilinear',
                            align_corners=False,
                        ),
                    )
            self.convs_all_levels.append(branch)
        self.conv_pred = nn.Sequential(*conv_gn_relu(channels, num_masks, 1))

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        total = 0
        for level, branch in enumerate(self.convs_all_levels):
            feat = (
                coords_appended(feats[level]) if level == 3 else feats[level]
            )
            total = total + branch(feat)
        return self.conv_pred(total)


class AdelaiDetSOLOv2(nn.Module):
    """``backbone``, ``ins_head`` and ``mask_head`` of AdelaiDet's SOLOv2
    (``configs/SOLOv2/R50_3x.yaml`` and ``R101_3x.yaml``)."""

    NUM_GRIDS = (40, 36, 24, 16, 12)

    def __init__(self, depth: int = 50) -> None:
        super().__init__()
        self.backbone = ResNetFPN(depth)
        self.ins_head = InsHead()
        self.mask_head = MaskHead()

    def forward(self, bgr: Tensor) -> Dict[str, object]:
        """Raw outputs for a batch of padded BGR images (N, 3, H, W) in
        0..255, H and W multiples of 32."""
        mean = bgr.new_tensor(PIXEL_MEAN)[None, :, None, None]
        feats = self.backbone(bgr - mean)  # std 1
        ins_feats = list(feats)
        ins_feats[0] = F.interpolate(
            feats[0], scale_factor=0.5, mode='bilinear', align_corners=False
        )
        ins_feats[4] = F.interpolate(
            feats[4],
            size=feats[3].shape[-2:],
            mode='bilinear',
            align_corners=False,
        )
        cate, kernel = self.ins_head(ins_feats, self.NUM_GRIDS)
        return dict(
            feats=feats,
            cate_preds=cate,
            kernel_preds=kernel,
            mask_feats=self.mask_head(feats[:4]),
        )


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Seeded weights that keep activations of a deep net in range: convs
    ~ N(0, 1 / fan_in), norm scales in [0.3, 0.7], small shifts."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            shape = tensor.shape
            if tensor.dim() == 4:
                fan_in = shape[1] * shape[2] * shape[3]
                tensor.copy_(
                    torch.randn(shape, generator=generator) / fan_in**0.5
                )
            elif name.endswith('running_var'):
                tensor.copy_(torch.rand(shape, generator=generator) + 0.5)
            elif name.endswith('weight'):
                tensor.copy_(
                    torch.rand(shape, generator=generator) * 0.4 + 0.3
                )
            else:  # biases, running means
                tensor.copy_(torch.randn(shape, generator=generator) * 0.1)
    return model


# AdelaiDet's MODEL.SOLOV2 test defaults.
ADELAIDET_TEST_CFG = dict(
    score_thr=0.1,
    mask_thr=0.5,
    nms_pre=500,
    update_thr=0.05,
    sigma=2.0,
    max_per_img=100,
)
LEVEL_STRIDES = (8, 8, 16, 32, 32)


def _local_maxima(scores: Tensor) -> Tensor:
    """Scores (1, C, S, S) kept where they equal their 2x2 window's max."""
    window = F.max_pool2d(scores, 2, stride=1, padding=1)[:, :, :-1, :-1]
    return scores * (window == scores).float()


def _gaussian_decay(
    labels: Tensor, masks: Tensor, areas: Tensor, sigma: float
) -> Tensor:
    """Matrix NMS decay factors of masks sorted by descending score."""
    flat = masks.flatten(1).float()
    inter = flat @ flat.T
    iou = (inter / (areas[:, None] + areas[None, :] - inter)).triu(1)
    iou = iou * (labels[:, None] == labels[None, :]).float().triu(1)
    compensate = iou.max(0).values[:, None]
    return (
        (torch.exp(-sigma * iou**2) / torch.exp(-sigma * compensate**2))
        .min(0)
        .values
    )


def _to_image(
    probs: Tensor, img_size: Tuple[int, int], ori_size: Tuple[int, int]
) -> Tensor:
    """Mask probabilities (K, h, w) -> (K, H, W) at the original size."""
    h, w = img_size
    ratio = -(-h // probs.shape[-2])  # ceil
    up = F.interpolate(
        probs[None],
        size=(probs.shape[-2] * ratio, probs.shape[-1] * ratio),
        mode='bilinear',
        align_corners=False,
    )[:, :, :h, :w]
    return F.interpolate(
        up, size=ori_size, mode='bilinear', align_corners=False
    )[0]


def adelaidet_instances(
    out: Dict[str, object],
    img_size: Tuple[int, int],
    ori_size: Tuple[int, int],
    cfg: dict = ADELAIDET_TEST_CFG,
) -> Dict[str, Tensor]:
    """AdelaiDet's inference on the raw outputs of one image: score filter
    after point NMS, area > stride filter, maskness, ``nms_pre`` best,
    gaussian Matrix NMS, ``update_thr``, ``max_per_img`` best, masks at the
    original size. Returns ``labels``, ``scores``, ``masks``."""
    cate = torch.cat(
        [
            _local_maxima(c.sigmoid())[0].permute(1, 2, 0).flatten(0, 1)
            for c in out['cate_preds']
        ]
    )
    kernels = torch.cat(
        [k[0].permute(1, 2, 0).flatten(0, 1) for k in out['kernel_preds']]
    )
    strides = torch.cat(
        [
            cate.new_full((k.shape[-1] ** 2,), s)
            for k, s in zip(out['kernel_preds'], LEVEL_STRIDES)
        ]
    )
    cells, labels = (cate > cfg['score_thr']).nonzero().unbind(1)
    scores = cate[cells, labels]
    probs = torch.einsum(
        'ke,ehw->khw', kernels[cells], out['mask_feats'][0]
    ).sigmoid()
    masks = probs > cfg['mask_thr']
    areas = masks.sum((1, 2)).float()
    keep = areas > strides[cells]
    probs, masks, areas = probs[keep], masks[keep], areas[keep]
    labels = labels[keep]
    scores = scores[keep] * (probs * masks).sum((1, 2)) / areas
    if len(scores) == 0:
        return dict(
            labels=labels, scores=scores, masks=masks.new_zeros((0, *ori_size))
        )
    order = scores.argsort(descending=True)[: cfg['nms_pre']]
    scores = scores[order] * _gaussian_decay(
        labels[order], masks[order], areas[order], cfg['sigma']
    )
    kept = order[scores >= cfg['update_thr']]
    scores = scores[scores >= cfg['update_thr']]
    best = scores.argsort(descending=True)[: cfg['max_per_img']]
    kept, scores = kept[best], scores[best]
    final = _to_image(probs[kept], img_size, ori_size) > cfg['mask_thr']
    return dict(labels=labels[kept], scores=scores, masks=final)
