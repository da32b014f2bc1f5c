"""``tools/demo/video_demo.py`` on a short generated video: the drawn video
has the input's frame count, size and frame rate; an unreadable input
stops with its name and leaves nothing written."""

import os

import cv2
import numpy as np
import pytest
import torch
from support import (
    QUICKSTART,
    run_tool_here,
    run_tool_process,
    save_seeded_checkpoint,
    seeded_model,
)

FRAMES, FPS, WIDTH, HEIGHT = 5, 7.0, 160, 128


def write_video(path: str) -> list:
    """A 5-frame MJPG video of a moving circle and square; its frames."""
    writer = cv2.VideoWriter(
        path, cv2.VideoWriter_fourcc(*'MJPG'), FPS, (WIDTH, HEIGHT)
    )
    assert writer.isOpened()
    frames = []
    for index in range(FRAMES):
        frame = np.full((HEIGHT, WIDTH, 3), 30, np.uint8)
        cv2.circle(frame, (40 + 15 * index, 64), 25, (255, 255, 255), -1)
        cv2.rectangle(
            frame,
            (100, 20 + 10 * index),
            (140, 60 + 10 * index),
            (0, 200, 0),
            -1,
        )
        writer.write(frame)
        frames.append(frame)
    writer.release()
    return frames


def read_video(path: str):
    capture = cv2.VideoCapture(path)
    assert capture.isOpened(), path
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames, fps


DEMO = 'tools/demo/video_demo.py'


def run_demo(repo_root, python, *args):
    return run_tool_process(repo_root, python, DEMO, *args)


@pytest.fixture(scope='module')
def inputs(tmp_path_factory, repo_root):
    """The video, a checkpoint with random initial weights (no instance
    drawn) and one whose category biases give it instances."""
    root = tmp_path_factory.mktemp('video')
    video = str(root / 'shapes.avi')
    frames = write_video(video)
    config = os.path.join(repo_root, QUICKSTART)
    plain = save_seeded_checkpoint(config, str(root / 'plain.pth'))
    model = seeded_model(config, class_bias_mean=-1.0)
    drawing = root / 'drawing.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), drawing)
    return root, video, frames, plain, str(drawing)


@pytest.mark.parametrize(
    'weights, out_name', [('plain', 'out.mp4'), ('drawing', 'sub/out.avi')]
)
def test_the_drawn_video_keeps_frames_size_and_rate(
    inputs, repo_root, python, weights, out_name
):
    root, video, frames, plain, drawing = inputs
    out = root / weights / out_name
    done, log = run_demo(
        repo_root,
        python,
        video,
        QUICKSTART,
        plain if weights == 'plain' else drawing,
        '--out',
        str(out),
        '--device',
        'cpu',
    )
    assert done.returncode == 0, log[-3000:]
    assert f'{FRAMES} frames of {WIDTH}x{HEIGHT} drawn' in log
    drawn, fps = read_video(str(out))
    assert len(drawn) == FRAMES
    assert all(frame.shape == (HEIGHT, WIDTH, 3) for frame in drawn)
    assert fps == pytest.approx(FPS)
    assert [p.name for p in out.parent.iterdir()] == [out.name]
    # Codec noise (two lossy encodings) against the drawn instances; the
    # colours keep their channel order (the green square stays green).
    diff = [np.abs(a.astype(int) - b).mean() for a, b in zip(drawn, frames)]
    if weights == 'plain':
        assert max(diff) < 4, diff
        green = drawn[0][40, 120].astype(int) - np.array([0, 200, 0])
        assert np.abs(green).max() < 20, drawn[0][40, 120]
    else:
        assert min(diff) > 20, diff


def test_an_unreadable_video_stops_with_its_name(inputs, repo_root, python):
    root, _, _, plain, _ = inputs
    broken = root / 'broken.avi'
    broken.write_bytes(b'not a video' * 100)
    out = root / 'none' / 'out.mp4'
    done, log = run_demo(
        repo_root, python, str(broken), QUICKSTART, plain, '--out', str(out)
    )
    assert done.returncode == 1
    assert f'cannot open {broken}' in log
    assert not out.parent.exists() or not list(out.parent.iterdir())


def test_arguments_are_checked(inputs, repo_root):
    root, video, _, plain, _ = inputs
    for args, message in (
        ([video, QUICKSTART, plain], 'give --out FILE, --show, or both'),
        (
            [video, QUICKSTART, plain, '--out', str(root / 'x.gif')],
            'no video writer for ".gif" files',
        ),
        (
            [str(root / 'missing.mp4'), QUICKSTART, plain, '--show'],
            f'video not found: {root / "missing.mp4"}',
        ),
    ):
        code, out, err = run_tool_here(repo_root, DEMO, *args)
        assert code == 2
        assert message in out + err
