# SOLOv2 R50, ms 3x, as AdelaiDet builds it (aim-uofa/AdelaiDet,
# configs/SOLOv2/R50_3x.yaml; its mask AP: README.md in this folder): its
# SOLOv2_R50_3x.pth converted by tools/model_converters/solov2_zoo2mmsolo.py
# loads here.
# The head and mask features are those of solov2_r50_fpn_ms-3x_coco.py; the
# backbone is detectron2's MSRA ResNet: caffe style (stride in the 1x1
# conv), frozen BatchNorm, BGR input minus the mean, std 1.
_base_ = './solov2_r50_fpn_ms-3x_coco.py'

model = dict(
    data_preprocessor=dict(
        mean=[103.530, 116.280, 123.675], std=[1.0, 1.0, 1.0], bgr_to_rgb=False
    ),
    backbone=dict(
        style='caffe',
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet50_caffe',
        ),
    ),
)
