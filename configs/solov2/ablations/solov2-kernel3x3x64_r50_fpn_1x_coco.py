# Table 3 (kernel shape), row 3x3x64: 3x3 dynamic kernels on 64 channels.
_base_ = '../solov2_r50_fpn_1x_coco.py'

# The head's mask_feat_channels follows the neck's out_channels.
model = dict(
    mask_feature_neck=dict(out_channels=64),
    mask_head=dict(dynamic_conv_size=3),
)
