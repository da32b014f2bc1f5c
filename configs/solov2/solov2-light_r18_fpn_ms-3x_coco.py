# SOLOv2-448 (light) R18, 3x: mmdet model zoo 29.7 mask AP (its metafile).
_base_ = './solov2-light_r50_fpn_ms-3x_coco.py'

# The light R50 model on a ResNet-18, whose stages give 64..512 channels.
model = dict(
    backbone=dict(
        depth=18, init_cfg=dict(checkpoint='torchvision://resnet18')),
    neck=dict(in_channels=[64, 128, 256, 512]))
