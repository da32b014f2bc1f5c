# Table 3 (unified vs separate mask features), row separate: one map per level.
_base_ = '../solov2_r50_fpn_1x_coco.py'

# Level i's kernels convolve features made from FPN level i alone (P2-P6).
model = dict(
    mask_feature_neck=dict(
        _delete_=True,
        type='mmsolo.SeparateMaskFeatureNeck',
        in_channels=256,
        feat_channels=128,
        out_channels=256,
        num_levels=5,
        mask_stride=4,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
    )
)
