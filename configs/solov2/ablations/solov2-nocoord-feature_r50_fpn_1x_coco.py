# Table 3 (explicit coordinates), row kernel only: none in the mask features.
_base_ = '../solov2_r50_fpn_1x_coco.py'

model = dict(mask_feature_neck=dict(with_coord=False))
