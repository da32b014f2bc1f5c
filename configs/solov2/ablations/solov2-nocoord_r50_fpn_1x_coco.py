# Table 3 (explicit coordinates), row none: no coordinates in either branch.
_base_ = '../solov2_r50_fpn_1x_coco.py'

model = dict(
    mask_feature_neck=dict(with_coord=False), mask_head=dict(with_coord=False)
)
