# Table 3 (kernel shape), row 1x1x128: 1x1 dynamic kernels on 128 channels.
_base_ = '../solov2_r50_fpn_1x_coco.py'

# The head's mask_feat_channels follows the neck's out_channels; row
# 1x1x256 is the base config itself.
model = dict(mask_feature_neck=dict(out_channels=128))
