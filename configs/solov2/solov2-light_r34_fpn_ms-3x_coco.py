# SOLOv2-448 (light) R34, 3x: mmdet's config of that name (mmdet 3.3's
# metafile gives no mask AP for it).
_base_ = './solov2-light_r50_fpn_ms-3x_coco.py'

# The light R50 model on a ResNet-34, whose stages give 64..512 channels.
model = dict(
    backbone=dict(
        depth=34, init_cfg=dict(checkpoint='torchvision://resnet34')),
    neck=dict(in_channels=[64, 128, 256, 512]))
