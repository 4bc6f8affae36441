"""The visual hull reference (lddbm.tasks.multiview3d.hull): camera conventions and carving."""

import numpy as np
import pytest

from lddbm.tasks.multiview3d.hull import project, visual_hull, voxel_centres


def test_projection_follows_the_renderers_camera():
    cam = (0.0, 0.0, 2.0, 40.0)  # in front of the object, at its height
    (r, c) = project(np.zeros((1, 3)), cam, 128)
    assert np.allclose([r[0], c[0]], 64)  # the origin is the image centre
    r, c = project(np.array([[0, 0.3, 0], [0.3, 0, 0]]), cam, 128)
    assert r[0] < 64 and np.isclose(c[0], 64)  # up is up
    assert c[1] > 64 and np.isclose(r[1], 64)  # +x is to the right seen from the front
    r, c = project(np.array([[0, 0, 0.3]]), (90.0, 0.0, 2.0, 40.0), 128)
    assert c[0] < 64  # seen from +x, the front (+z) is on the left
    # a wider lens makes the same point land nearer the centre
    assert project(np.array([[0.3, 0, 0]]), (0, 0, 2.0, 70.0), 128)[1][0] < c[0] + 128


def silhouettes(points, cameras, size=96):
    masks = np.zeros((len(cameras), size, size), dtype=bool)
    for mask, cam in zip(masks, cameras):
        r, c = project(points, cam, size)
        ok = (r >= 0) & (r < size) & (c >= 0) & (c < size)
        mask[r[ok].astype(int), c[ok].astype(int)] = True
    return masks


def test_the_hull_of_a_box_is_the_box_from_enough_views_and_bigger_from_one():
    rng = np.random.default_rng(0)
    lo, hi = np.array([-0.3, -0.2, -0.1]), np.array([0.3, 0.2, 0.1])
    points = lo + (hi - lo) * rng.random((200_000, 3))
    centres = voxel_centres(32)
    truth = np.all((centres > lo) & (centres < hi), axis=1).reshape(32, 32, 32)
    cameras = np.array([[a, e, 2.0, 40.0] for a, e in [(0, 20), (90, 30), (180, 15), (270, 40), (45, 60)]])
    four = visual_hull(silhouettes(points, cameras[:4]), cameras[:4])
    one = visual_hull(silhouettes(points, cameras[:1]), cameras[:1])
    iou = lambda a: (a & truth).sum() / (a | truth).sum()  # noqa: E731
    assert (four & truth).sum() == truth.sum()  # a hull never cuts into the object
    # 0.71: perspective silhouettes and the voxels the box's faces cut through make it a little bigger
    assert iou(four) > 0.65 and four.sum() < 1.6 * truth.sum()
    assert iou(one) < 0.5 < iou(four) and one.sum() > 2 * four.sum()  # one view leaves depth unknown
    with pytest.raises(ValueError):
        visual_hull(np.zeros((1, 8, 8), bool), np.zeros((1, 3)))  # cameras need their field of view
