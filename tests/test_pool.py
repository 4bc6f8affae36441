"""Augmentation pools (lddbm.data.pool): the same augmentation as per item, made once, cached."""

import numpy as np

from lddbm.data.augment import augment_view_and_box
from lddbm.data.pool import augmentation_pool


def renders(n=3, v=2, s=32):
    rng = np.random.default_rng(0)
    views = rng.integers(0, 255, (n, v, s, s, 3), dtype=np.uint8)
    masks = np.zeros((n, v, s, s), dtype=bool)
    masks[:, :, 8:24, 10:20] = True
    return views, masks


def test_a_pool_holds_the_per_item_augmentation_and_is_made_once(tmp_path, monkeypatch):
    views, masks = renders()
    ids = ["a", "b", "c"]
    pool, boxes = augmentation_pool(lambda: (views, masks), ids, 16, 0.75, 2, tmp_path, seed=3, processes=1,
                                    progress=False)
    assert pool.shape == (3, 2, 2, 16, 16, 3) and boxes.shape == (3, 2, 2, 3)
    rng = np.random.default_rng([3, 1])  # object 1's stream: its views, then variants, in order
    first, box = augment_view_and_box(views[1, 0], masks[1, 0], 16, rng, None, 0.75)
    assert np.array_equal(pool[1, 0, 0], first) and np.allclose(boxes[1, 0, 0], box)

    import lddbm.data.pool as module

    monkeypatch.setattr(module, "_make", lambda task: (_ for _ in ()).throw(AssertionError("rebuilt")))
    unused = lambda: (_ for _ in ()).throw(AssertionError("renders stacked for a cached pool"))  # noqa: E731
    again, _ = augmentation_pool(unused, ids, 16, 0.75, 2, tmp_path, seed=3, processes=1, progress=False)
    assert np.array_equal(again, pool)  # loaded from the cache
    other = tmp_path / "other"
    monkeypatch.undo()
    parallel, _ = augmentation_pool(lambda: (views, masks), ids, 16, 0.75, 2, other, seed=3, processes=2,
                                    progress=False)
    assert np.array_equal(parallel, pool)  # the same pool whatever the process count
