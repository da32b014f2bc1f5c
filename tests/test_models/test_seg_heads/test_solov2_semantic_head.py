"""SOLOv2SemanticHead: stuff + "thing" logits at 1/4 scale, cross-entropy
with an ignore label, predictions at the image's size."""

import pytest
import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmengine.structures import PixelData

from mmsolo.models.seg_heads import SOLOv2SemanticHead

THINGS, STUFF, IGNORE = 3, 2, 255


def make_head(**kwargs) -> SOLOv2SemanticHead:
    torch.manual_seed(0)
    options = dict(
        num_things_classes=THINGS,
        num_stuff_classes=STUFF,
        in_channels=8,
        feat_channels=16,
        norm_cfg=dict(type='GN', num_groups=4),
    )
    options.update(kwargs)
    head = SOLOv2SemanticHead(**options)
    head.init_weights()
    return head


def fpn_feats(batch: int, height: int, width: int):
    """P2..P5 (N, 8, height / 2**i, width / 2**i) of a 4x larger input;
    height and width divisible by 8."""
    torch.manual_seed(1)
    return [torch.randn(batch, 8, height >> i, width >> i) for i in range(4)]


def samples_with(*maps: torch.Tensor):
    samples = []
    for sem_seg in maps:
        sample = DetDataSample()
        sample.gt_sem_seg = PixelData(sem_seg=sem_seg[None])
        samples.append(sample)
    return samples


def test_forward_gives_stuff_plus_thing_at_a_quarter_scale():
    head = make_head()
    assert head.num_outputs == STUFF + 1
    assert head(fpn_feats(2, 16, 24)).shape == (2, STUFF + 1, 16, 24)


def test_targets_merge_things_and_shift_stuff():
    head = make_head()
    labels = torch.tensor([[0, 1, 2, 3, 4, IGNORE, 5, -1]])
    expected = torch.tensor([[2, 2, 2, 0, 1, IGNORE, IGNORE, IGNORE]])
    assert torch.equal(head.semantic_targets(labels), expected)


def test_loss_is_weighted_cross_entropy_over_labelled_pixels():
    head = make_head()
    feats = fpn_feats(2, 8, 16)
    maps = torch.randint(0, THINGS + STUFF, (2, 32, 64))
    maps[0, :5] = IGNORE
    loss = head.loss(feats, samples_with(*maps))['loss_seg']
    logits = F.interpolate(
        head(feats), size=(32, 64), mode='bilinear', align_corners=False
    )
    expected = 0.5 * F.cross_entropy(
        logits, head.semantic_targets(maps), ignore_index=IGNORE
    )
    torch.testing.assert_close(loss, expected)
    heavier = make_head(
        loss_seg=dict(
            type='CrossEntropyLoss', avg_non_ignore=True, loss_weight=2.0
        )
    )
    torch.testing.assert_close(
        heavier.loss(feats, samples_with(*maps))['loss_seg'], 4 * expected
    )


def test_image_without_stuff_trains_towards_thing():
    head = make_head()
    maps = torch.zeros(1, 32, 64, dtype=torch.long)  # all class-0 things
    maps[0, 20:] = IGNORE
    loss = head.loss(fpn_feats(1, 8, 16), samples_with(*maps))['loss_seg']
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert head.conv_seg.bias.grad[STUFF] < 0  # raises the "thing" logit
    assert (head.conv_seg.bias.grad[:STUFF] > 0).all()


def test_batch_without_labelled_pixel_gives_zero_with_gradient():
    head = make_head()
    maps = torch.full((2, 32, 64), IGNORE)
    loss = head.loss(fpn_feats(2, 8, 16), samples_with(*maps))['loss_seg']
    assert loss.item() == 0.0
    loss.backward()  # every parameter is in the graph (DDP needs it)
    assert all(p.grad is not None for p in head.parameters())


def test_maps_of_different_sizes_name_pad_seg():
    head = make_head()
    maps = [
        torch.zeros(32, 64, dtype=torch.long),
        torch.zeros(32, 56, dtype=torch.long),
    ]
    with pytest.raises(ValueError, match='pad_seg=True'):
        head.loss(fpn_feats(2, 8, 16), samples_with(*maps))


def test_predict_crops_the_padding_and_resizes_to_the_original():
    head = make_head()
    feats = fpn_feats(2, 8, 16)  # padded input 32x64
    metas = [
        dict(img_shape=(30, 64), ori_shape=(60, 128)),
        dict(img_shape=(32, 37), ori_shape=(32, 37)),
    ]
    rescaled = head.predict(feats, metas, rescale=True)
    assert [tuple(r.shape) for r in rescaled] == [
        (STUFF + 1, 60, 128),
        (STUFF + 1, 32, 37),
    ]
    as_input = head.predict(feats, metas, rescale=False)
    assert [tuple(r.shape[-2:]) for r in as_input] == [(30, 64), (32, 37)]
    full = F.interpolate(
        head(feats), size=(32, 64), mode='bilinear', align_corners=False
    )
    torch.testing.assert_close(as_input[1], full[1, :, :32, :37])
    torch.testing.assert_close(
        rescaled[0],
        F.interpolate(
            full[:1, :, :30, :64],
            size=(60, 128),
            mode='bilinear',
            align_corners=False,
        )[0],
    )


def test_bad_class_numbers_are_refused():
    with pytest.raises(ValueError, match='num_things_classes >= 1'):
        make_head(num_things_classes=0)
