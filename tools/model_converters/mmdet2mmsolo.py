"""Convert an MMDetection 3.x SOLOv2 checkpoint (its model zoo) to mmsolo.

    python tools/model_converters/mmdet2mmsolo.py SRC DST [--unsafe-load]

The same as ``solov2_zoo2mmsolo.py SRC DST --from mmdet``.
"""

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from solov2_zoo2mmsolo import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main(sys.argv[1:], layout='mmdet'))
