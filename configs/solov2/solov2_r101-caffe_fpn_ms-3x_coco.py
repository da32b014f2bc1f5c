# SOLOv2 R101, ms 3x, as AdelaiDet builds it (aim-uofa/AdelaiDet,
# configs/SOLOv2/R101_3x.yaml; AdelaiDet publishes no R101 weights, so this
# is for a model trained with its code). Caffe-style MSRA ResNet-101 as in
# solov2_r50-caffe_fpn_ms-3x_coco.py.
_base_ = './solov2_r50-caffe_fpn_ms-3x_coco.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet101_caffe',
        ),
    )
)
