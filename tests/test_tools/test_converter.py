import subprocess

import pytest
import torch

from mmsolo.checkpoint import convert_mmdet_state_dict


def test_cli_converts_mmdet_checkpoint(tmp_path, repo_root, python):
    from mmsolo.testing import build_paired_solov2
    reference, ours = build_paired_solov2()
    src, dst = tmp_path / 'mmdet.pth', tmp_path / 'mmsolo.pth'
    torch.save(dict(state_dict=reference.state_dict(), meta={}), src)
    done = subprocess.run(
        [python, 'tools/model_converters/mmdet2mmsolo.py', str(src),
         str(dst)],
        cwd=repo_root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    state_dict = torch.load(dst, weights_only=False)['state_dict']
    assert set(state_dict) == set(ours.state_dict())
    ours.load_state_dict(state_dict, strict=True)
    key = 'mask_feature_neck.level_convs.3.2.conv.weight'
    torch.testing.assert_close(
        state_dict[key], reference.state_dict()[
            'mask_head.mask_feature_head.convs_all_levels.3.conv2.conv.weight'])


def test_unmapped_keys_are_listed():
    state_dict = {
        'backbone.conv1.weight': torch.zeros(1),
        'roi_head.bbox_head.fc_cls.weight': torch.zeros(1),
        'rpn_head.rpn_conv.bias': torch.zeros(1),
    }
    with pytest.raises(KeyError) as error:
        convert_mmdet_state_dict(state_dict)
    message = str(error.value)
    assert '2 key(s)' in message
    assert 'roi_head.bbox_head.fc_cls.weight' in message
    assert 'rpn_head.rpn_conv.bias' in message


def test_cli_reports_bad_input_without_writing(tmp_path, repo_root, python):
    src, dst = tmp_path / 'faster_rcnn.pth', tmp_path / 'out.pth'
    torch.save({'roi_head.fc.weight': torch.zeros(1)}, src)
    done = subprocess.run(
        [python, 'tools/model_converters/mmdet2mmsolo.py', str(src),
         str(dst)],
        cwd=repo_root, capture_output=True, text=True)
    assert done.returncode == 1
    assert 'roi_head.fc.weight' in done.stderr
    assert not dst.exists()
    (tmp_path / 'junk.pth').write_text('not a checkpoint')
    done = subprocess.run(
        [python, 'tools/model_converters/mmdet2mmsolo.py',
         str(tmp_path / 'junk.pth'), str(dst)],
        cwd=repo_root, capture_output=True, text=True)
    assert done.returncode == 1 and 'junk.pth' in done.stderr
