# Table 3 (explicit coordinates), row feature only: none in the kernel branch.
_base_ = '../solov2_r50_fpn_1x_coco.py'

model = dict(mask_head=dict(with_coord=False))
