"""``detect_layout`` names the zoo of a state dict by its key prefixes, and
``convert_zoo_state_dict`` converts any of them."""

import pytest
import torch
from support.adelaidet_source import AdelaiDetSOLOv2
from support.solo_source import (
    OFFICIAL_SOLOV2_ZOO,
    official_solov2_shapes,
    random_state_dict,
)

from mmsolo.checkpoint import (
    convert_adelaidet_state_dict,
    convert_mmdet_state_dict,
    convert_solo_state_dict,
    convert_zoo_state_dict,
    detect_layout,
)

ZERO = torch.zeros(1)
MMDET = {
    'backbone.conv1.weight': ZERO,
    'neck.lateral_convs.0.conv.weight': ZERO,
    'mask_head.kernel_convs.0.conv.weight': ZERO,
    'mask_head.mask_feature_head.conv_pred.0.conv.weight': ZERO,
}
SOLO = {
    'backbone.conv1.weight': ZERO,
    'bbox_head.solo_kernel.weight': ZERO,
    'mask_feat_head.conv_pred.0.conv.weight': ZERO,
}
ADELAIDET = {
    'backbone.bottom_up.stem.conv1.weight': ZERO,
    'backbone.fpn_lateral2.weight': ZERO,
    'ins_head.cate_pred.weight': ZERO,
    'mask_head.conv_pred.0.weight': ZERO,
}


@pytest.mark.parametrize(
    'layout,state_dict',
    [('mmdet', MMDET), ('solo', SOLO), ('adelaidet', ADELAIDET)],
)
def test_each_layout_is_detected(layout, state_dict):
    assert detect_layout(state_dict) == layout
    wrapped = {f'module.{key}': value for key, value in state_dict.items()}
    assert detect_layout(wrapped) == layout
    assert list(convert_zoo_state_dict(wrapped)) == list(
        convert_zoo_state_dict(state_dict, layout)
    )


def test_auto_detection_converts_like_the_named_layout():
    assert convert_zoo_state_dict(MMDET) == convert_mmdet_state_dict(MMDET)
    assert 'mask_feature_neck.fuse_conv.conv.weight' in convert_zoo_state_dict(
        SOLO
    )
    assert 'neck.lateral_convs.0.conv.weight' in convert_zoo_state_dict(
        ADELAIDET
    )


def test_unknown_layout_lists_some_keys():
    state_dict = {f'roi_heads.layer{i}.weight': ZERO for i in range(9)}
    with pytest.raises(ValueError) as error:
        detect_layout(state_dict)
    message = str(error.value)
    assert 'no known SOLOv2 layout' in message
    assert 'roi_heads.layer0.weight' in message and '(9 keys)' in message
    with pytest.raises(ValueError, match='unknown layout'):
        convert_zoo_state_dict(MMDET, 'detectron')


def test_mixed_and_already_converted_state_dicts_are_refused():
    with pytest.raises(ValueError, match=r'several layouts \(solo, adelaidet'):
        detect_layout({**SOLO, **ADELAIDET})
    ours = convert_mmdet_state_dict(MMDET)
    with pytest.raises(ValueError, match='already has mmsolo'):
        detect_layout(ours)


def test_whole_source_state_dicts_are_detected():
    """Full official and AdelaiDet state dicts (from their module
    definitions) are recognized and converted as their named layout."""
    spec, _ = OFFICIAL_SOLOV2_ZOO['SOLOv2_Light_512_DCN_R50_3x']
    solo = random_state_dict(official_solov2_shapes(spec))
    adelaidet = AdelaiDetSOLOv2(50).state_dict()
    for state_dict, layout, convert in (
        (solo, 'solo', convert_solo_state_dict),
        (adelaidet, 'adelaidet', convert_adelaidet_state_dict),
    ):
        assert detect_layout(state_dict) == layout
        assert list(convert_zoo_state_dict(state_dict)) == list(
            convert(state_dict)
        )
