# SOLOv2-512 (light, accuracy) R50-DCN as the authors built it: their
# SOLOv2_Light_512_DCN_R50_3x (mask APs: README.md in this folder)
# in WXinlong/SOLO, converted by tools/model_converters/solov2_zoo2mmsolo.py.
# It is solov2-light_r50-dcn_fpn_ms-3x_coco.py (mmdet's architecture: DCN in
# the backbone's stages 2-4 and only in the last of the 3 convs of each head
# branch, no DCN in the mask-feature neck; trained at shorter side 352-512,
# tested at (852, 512)) with DCN v1 (mmcv 'DCN', 18 offset channels, no
# modulation) in place of DCNv2.
_base_ = './solov2-light_r50-dcn_fpn_ms-3x_coco.py'

model = dict(
    backbone=dict(dcn=dict(type='DCN')),
    mask_head=dict(dcn_cfg=dict(type='DCN')),
)
