# SOLOv2-448 (light, speed) R18, 3x: the authors' SOLOv2_Light_448_R18_3x;
# mmdet has the same architecture (its solov2-light_r18_fpn_ms-3x_coco).
# Their mask APs: README.md in this folder.
_base_ = './solov2-light_r50_fpn_ms-3x_coco.py'

model = dict(
    backbone=dict(
        depth=18, init_cfg=dict(checkpoint='torchvision://resnet18')
    ),
    neck=dict(in_channels=[64, 128, 256, 512]),
)
