# SOLOv2 R101, ms 3x, as mmdet's model zoo (its mask AP: README.md in this
# folder).
_base_ = './solov2_r50_fpn_ms-3x_coco.py'

model = dict(
    backbone=dict(
        depth=101, init_cfg=dict(checkpoint='torchvision://resnet101')
    )
)
