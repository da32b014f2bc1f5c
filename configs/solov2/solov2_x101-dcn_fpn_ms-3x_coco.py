# SOLOv2 X101-64x4d-DCN, ms 3x, as mmdet's model zoo (its mask AP:
# README.md in this folder).
_base_ = './solov2_r50_fpn_ms-3x_coco.py'

# DCNv2 as in the R101-DCN config, on a ResNeXt-101 64x4d backbone.
model = dict(
    backbone=dict(
        type='ResNeXt',
        depth=101,
        groups=64,
        base_width=4,
        dcn=dict(type='DCNv2', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, True, True, True),
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://resnext101_64x4d'
        ),
    ),
    mask_feature_neck=dict(conv_cfg=dict(type='DCNv2')),
    mask_head=dict(dcn_cfg=dict(type='DCNv2'), dcn_apply_to_all_conv=True),
)
