# SOLOv2 R101-DCN, ms 3x, as the paper and mmdet's model zoo (their mask
# APs: README.md in this folder).
_base_ = './solov2_r50_fpn_ms-3x_coco.py'

# DCNv2 in the backbone's stages 2-4, in every head branch conv and in the
# mask-feature convs, as mmdet's config.
model = dict(
    backbone=dict(
        depth=101,
        dcn=dict(type='DCNv2', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, True, True, True),
        init_cfg=dict(checkpoint='torchvision://resnet101'),
    ),
    mask_feature_neck=dict(conv_cfg=dict(type='DCNv2')),
    mask_head=dict(dcn_cfg=dict(type='DCNv2'), dcn_apply_to_all_conv=True),
)
