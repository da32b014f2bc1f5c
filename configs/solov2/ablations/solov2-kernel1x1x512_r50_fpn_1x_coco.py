# Table 3 (kernel shape), row 1x1x512: 1x1 dynamic kernels on 512 channels.
_base_ = '../solov2_r50_fpn_1x_coco.py'

# The head's mask_feat_channels follows the neck's out_channels.
model = dict(mask_feature_neck=dict(out_channels=512))
