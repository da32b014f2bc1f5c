"""Run a model on every frame of a video and draw its masks, labels and
scores (mmdet 3's ``demo/video_demo.py`` arguments):

    python tools/demo/video_demo.py VIDEO CONFIG CHECKPOINT
        [--device cuda:0|cpu] [--score-thr 0.3] [--out OUT.mp4] [--show]
        [--wait-time 0.001] [--cfg-options ...] [--unsafe-load]

VIDEO is a video file, or the index of a camera (``0``). OpenCV reads the
frames and writes ``--out``; each frame is predicted and drawn by the
config's visualizer through :class:`~mmsolo.apis.SOLOv2Inferencer`, as
``tools/demo/image_demo.py`` draws images. ``--out`` keeps the input's frame
rate and size; its extension picks the codec (``.mp4``, ``.m4v``, ``.mov``:
mp4v; ``.avi``, ``.mkv``: MJPG). The video is written to a temporary file
beside OUT and renamed to OUT when the last frame is in: an error, or
Ctrl-C while reading a file, leaves no half-written OUT. A camera is read
until Ctrl-C (or q / Esc in the ``--show`` window), and what was recorded
is kept.
"""

import argparse
import os
import os.path as osp
import tempfile
import time
from contextlib import contextmanager, nullcontext
from typing import Iterator, Optional, Tuple

import cv2
import numpy as np
import torch

from mmsolo.apis import SOLOv2Inferencer
from mmsolo.checkpoint import add_unsafe_load_argument, tool_checkpoint_loading
from mmsolo.fileio import plain_open_mode
from mmsolo.runner import load_tool_config
from mmsolo.utils import add_cfg_options

# Codec (FourCC) of each output extension that OpenCV's FFmpeg writer has.
CODECS = {
    '.mp4': 'mp4v',
    '.m4v': 'mp4v',
    '.mov': 'mp4v',
    '.avi': 'MJPG',
    '.mkv': 'MJPG',
}
# Frame rate of the output when the input reports none (most cameras).
DEFAULT_FPS = 30.0
STOP_KEYS = (27, ord('q'))  # Esc, q


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='SOLOv2 video demo')
    parser.add_argument('video', help='video file, or a camera index (0)')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--device',
        default='cuda:0' if torch.cuda.is_available() else 'cpu',
        help='device the model runs on (default: cuda:0 where CUDA is '
        'available, else cpu)',
    )
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='draw instances scoring at least this',
    )
    parser.add_argument(
        '--out',
        help='write the drawn video here (.mp4, .m4v, .mov, .avi or .mkv)',
    )
    parser.add_argument(
        '--show', action='store_true', help='show the frames in a window'
    )
    parser.add_argument(
        '--wait-time',
        type=float,
        default=0.001,
        help='seconds each shown frame stays (0: until a key is pressed)',
    )
    add_cfg_options(parser)
    add_unsafe_load_argument(parser)
    args = parser.parse_args()
    if not (args.out or args.show):
        parser.error('nothing to do: give --out FILE, --show, or both')
    if args.out and osp.isdir(args.out):
        parser.error(f'--out {args.out} is a folder; give a video file')
    if args.out:
        extension = osp.splitext(args.out)[1].lower()
        if extension not in CODECS:
            parser.error(
                f'--out {args.out}: no video writer for "{extension}" '
                f'files; use one of {", ".join(CODECS)}'
            )
    if not osp.exists(args.video) and not args.video.isdigit():
        parser.error(f'video not found: {args.video}')
    if args.wait_time < 0:
        parser.error(f'--wait-time must be >= 0, got {args.wait_time}')
    return args


def open_video(video: str) -> Tuple[cv2.VideoCapture, np.ndarray, bool]:
    """The opened capture of ``video`` (a file, or a camera index when no
    such file exists), its first frame (H, W, 3) BGR uint8, and whether it
    is a camera.

    Raises:
        SystemExit: OpenCV cannot open it or read a frame of it.
    """
    camera = not osp.exists(video)
    capture = cv2.VideoCapture(int(video) if camera else video)
    what = f'camera {video}' if camera else video
    if not capture.isOpened():
        raise SystemExit(
            f'video_demo.py: cannot open {what}: OpenCV reads no video '
            'from it (not a video, or a codec it lacks)'
        )
    ok, frame = capture.read()
    if not ok or frame is None:
        capture.release()
        raise SystemExit(f'video_demo.py: no frame could be read from {what}')
    return capture, frame, camera


@contextmanager
def atomic_video_writer(
    out_file: str, fps: float, size: Tuple[int, int]
) -> Iterator[cv2.VideoWriter]:
    """An OpenCV writer of (W, H) = ``size`` frames at ``fps`` into a
    temporary file beside ``out_file`` (same extension, so the same
    container), renamed to ``out_file`` when the block ends without an
    error and removed otherwise (as :func:`mmsolo.fileio.open_atomically`).

    Raises:
        SystemExit: the folder cannot take the file, or OpenCV cannot write
            this codec into it.
    """
    directory = osp.dirname(osp.abspath(out_file))
    extension = osp.splitext(out_file)[1].lower()
    codec = CODECS[extension]
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp_file = tempfile.mkstemp(
            dir=directory,
            prefix=f'.{osp.basename(out_file)}.',
            suffix=f'.tmp{extension}',
        )
    except OSError as error:
        raise SystemExit(
            f'video_demo.py: cannot write {out_file}: {error}'
        ) from None
    os.close(fd)
    writer = cv2.VideoWriter(
        tmp_file, cv2.VideoWriter_fourcc(*codec), fps, size
    )
    try:
        if not writer.isOpened():
            raise SystemExit(
                f'video_demo.py: cannot write {out_file}: OpenCV has no '
                f'{codec} writer for {extension} files here'
            )
        yield writer
        writer.release()
        with open(tmp_file, 'rb+') as file:
            os.fsync(file.fileno())
        os.chmod(tmp_file, plain_open_mode(out_file))
        os.replace(tmp_file, out_file)
    finally:
        writer.release()
        if osp.exists(tmp_file):
            os.remove(tmp_file)


def build_inferencer(args: argparse.Namespace) -> SOLOv2Inferencer:
    """The config's model with the checkpoint's weights, and its
    visualizer."""
    cfg = load_tool_config(args.config, args.cfg_options)
    with tool_checkpoint_loading(args.unsafe_load):
        return SOLOv2Inferencer(
            model=cfg,
            weights=args.checkpoint,
            device=args.device,
            show_progress=False,
        )


def draw_frame(
    inferencer: SOLOv2Inferencer, frame: np.ndarray, score_thr: float
) -> np.ndarray:
    """The (H, W, 3) BGR ``frame`` with the predicted instances scoring at
    least ``score_thr`` drawn on it by the config's visualizer (BGR)."""
    sample = inferencer(
        frame, return_datasamples=True, no_save_vis=True, no_save_pred=True
    )['predictions'][0]
    visualizer = inferencer.visualizer
    visualizer.add_datasample(
        'frame',
        frame[..., ::-1],  # the visualizer draws on RGB images
        sample,
        draw_gt=False,
        show=False,
        pred_score_thr=score_thr,
    )
    return np.ascontiguousarray(visualizer.get_image()[..., ::-1])


def shown(frame: np.ndarray, wait_time: float) -> bool:
    """Show ``frame``; False when q or Esc was pressed (stop).

    Raises:
        SystemExit: this OpenCV has no windows (a headless build).
    """
    try:
        cv2.imshow('video_demo', frame)
    except cv2.error as error:
        raise SystemExit(
            'video_demo.py: --show needs an OpenCV with windows '
            f'(opencv-python, not opencv-python-headless): {error}'
        ) from None
    key = cv2.waitKey(max(1, round(wait_time * 1000)) if wait_time else 0)
    return key & 0xFF not in STOP_KEYS


def stream(
    capture: cv2.VideoCapture,
    frame: Optional[np.ndarray],
    inferencer: SOLOv2Inferencer,
    writer: Optional[cv2.VideoWriter],
    args: argparse.Namespace,
    camera: bool,
) -> int:
    """Draw ``frame`` and every next one of ``capture``; write and/or show
    them. Returns the number of frames drawn. Ctrl-C ends a camera's
    stream normally and aborts a file's."""
    count = 0
    try:
        while frame is not None:
            drawn = draw_frame(inferencer, frame, args.score_thr)
            if writer is not None:
                writer.write(drawn)
            count += 1
            if args.show and not shown(drawn, args.wait_time):
                break
            ok, frame = capture.read()
            frame = frame if ok else None
    except KeyboardInterrupt:
        if not camera:
            raise
    return count


def close_windows() -> None:
    """Close the ``--show`` window (nothing to close in a headless
    OpenCV)."""
    try:
        cv2.destroyAllWindows()
    except cv2.error:
        pass


def input_fps(capture: cv2.VideoCapture, video: str) -> float:
    """The frame rate the input reports, or :data:`DEFAULT_FPS` (said)."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    if fps and fps > 0:
        return fps
    print(f'{video} reports no frame rate: writing {DEFAULT_FPS:g} fps')
    return DEFAULT_FPS


def main() -> None:
    args = parse_args()
    capture, frame, camera = open_video(args.video)
    try:
        inferencer = build_inferencer(args)
        height, width = frame.shape[:2]
        writing = nullcontext()
        if args.out:
            writing = atomic_video_writer(
                args.out, input_fps(capture, args.video), (width, height)
            )
        start = time.perf_counter()
        with writing as writer:
            count = stream(capture, frame, inferencer, writer, args, camera)
        elapsed = time.perf_counter() - start
    except KeyboardInterrupt:
        written = f'; {args.out} not written' if args.out else ''
        raise SystemExit(f'video_demo.py: interrupted{written}') from None
    finally:
        capture.release()
        if args.show:
            close_windows()
    print(
        f'{count} frames of {width}x{height} drawn '
        f'({count / elapsed:.1f} frames/s)'
    )
    if args.out:
        print(f'video written to {args.out}')


if __name__ == '__main__':
    main()
