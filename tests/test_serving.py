"""Hosting limits: the bounded result store, and the served demo's upload limit, file serving and
failed writes (fixtures: conftest.py)."""

import errno
import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from lddbm.serving import PARTIAL, ResultStore, StorageFull


def write_bytes(n):
    return lambda tmp: tmp.write_bytes(b"x" * n)


def test_a_result_is_renamed_into_place_only_when_complete(tmp_path):
    store = ResultStore(tmp_path / "store")
    folder = store.new_folder()
    path = store.save(folder / "shape.glb", write_bytes(10))
    assert path.read_bytes() == b"x" * 10 and sorted(p.name for p in folder.iterdir()) == ["shape.glb"]

    def dies_halfway(tmp):
        tmp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(StorageFull, match="disk is full.*try again"):
        store.save(folder / "big.png", dies_halfway)
    assert not (folder / "big.png").exists() and not list(folder.glob(PARTIAL + "*"))
    with pytest.raises(StorageFull, match="could not be saved"):
        store.save(folder / "empty.png", lambda tmp: tmp.touch())  # an empty result is a failure, not a file


def test_sweep_removes_old_entries_then_the_oldest_until_under_the_cap(tmp_path):
    store = ResultStore(tmp_path / "store", max_bytes=2500, max_age_s=3600)
    now = time.time()
    folders = []
    for age in (7200, 300, 200, 100):  # one expired, then oldest first
        folder = store.new_folder()
        store.save(folder / "r.bin", write_bytes(1000))
        os.utime(folder, (now - age, now - age))
        folders.append(folder)
    upload = tmp_path / "store" / "gradio-upload-hash"  # Gradio's cache shares the root
    upload.mkdir()
    (upload / "photo.png").write_bytes(b"y" * 400)
    (folders[3] / (PARTIAL + "killed.glb")).write_bytes(b"z")  # a write interrupted by SIGKILL
    os.utime(folders[3] / (PARTIAL + "killed.glb"), (now - 120, now - 120))
    (folders[3] / "zero.png").touch()
    report = store.sweep(now)
    assert not folders[0].exists() and not folders[1].exists()  # expired; then the oldest, for the cap
    assert folders[2].exists() and folders[3].exists() and upload.exists()
    assert report["bytes"] <= 2500 and store.usage() <= 2500
    assert sorted(p.name for p in folders[3].iterdir()) == ["r.bin"]  # half-written and empty files gone


def test_entries_made_before_serving_outlive_the_sweep(tmp_path):
    """What the app cached while the page was built (examples) is served by URL for the page's life."""
    store = ResultStore(tmp_path / "store", max_bytes=10_000, max_age_s=3600)
    example = tmp_path / "store" / "example-hash"
    example.mkdir()
    (example / "view_0.png").write_bytes(b"x" * 100)
    assert store.pin_existing() == 1  # the example
    folder = store.new_folder()
    store.save(folder / "r.bin", write_bytes(100))
    store.sweep(time.time() + 7200)  # two hours on
    assert (example / "view_0.png").is_file() and not folder.exists()


def test_over_limit_upload_is_refused_and_files_outside_the_cache_are_not_served(served_app, monkeypatch):
    module, url = served_app
    with httpx.Client(base_url=url, timeout=30) as http:
        big = {"files": ("big.png", b"\x89PNG" + b"0" * (26 * 2**20), "image/png")}  # over MAX_UPLOAD (25 MB)
        refused = http.post("gradio_api/upload", files=big)
        assert refused.status_code == 413 and "size" in refused.text.lower()
        ok = http.post("gradio_api/upload", files={"files": ("ok.png", b"\x89PNG small", "image/png")})
        assert ok.status_code == 200
        root = module.common.ROOT
        for probe in (f"gradio_api/file={root / 'app.py'}", f"gradio_api/file={root / 'checkpoints'}",
                      "gradio_api/file=/etc/passwd", "gradio_api/file=../app.py", "gradio_api/file=..%2Fapp.py",
                      "gradio_api/file=%2Fetc%2Fpasswd", f"gradio_api/file={root}/lddbm/../app.py"):
            assert http.get(probe).status_code in (403, 404), probe


def test_a_failed_write_is_a_message_and_the_server_keeps_serving(served_app, views):
    from gradio_client import Client, handle_file

    module, url = served_app
    client = Client(url, verbose=False)
    controls = (True, 0.75, 1, "dbim", 1.0, 0.0, 0, False, 0.5, 1)
    gallery = [{"image": handle_file(p), "caption": None} for p in views()]
    from app.tabs import views3d

    real_export = views3d.export_mesh

    def disk_full(mesh, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    views3d.export_mesh = disk_full
    try:
        with pytest.raises(Exception, match="disk is full"):
            client.predict(gallery, *controls, api_name="/views_to_3d")
    finally:
        views3d.export_mesh = real_export
    assert len(client.predict(gallery, *controls, api_name="/views_to_3d")[1]) == 3


def test_queue_full_tells_the_visitor_to_try_again(app):
    import asyncio

    class FakeQueue:
        async def push(self, *args):
            return False, "Queue is full. Max size is 32 and size is 32.", "queue_full"

    class FakeDemo:
        _queue = FakeQueue()

    app.busy_message(FakeDemo)
    ok, message, kind = asyncio.run(FakeDemo._queue.push(None, None, None))
    assert not ok and kind == "queue_full" and message == app.BUSY and "try again" in message


def test_a_server_killed_mid_write_leaves_nothing_half_written_to_serve(tmp_path):
    import signal

    store = ResultStore(tmp_path / "store")
    folder = store.new_folder()
    target = folder / "shape.glb"

    def killed_halfway(tmp):
        tmp.write_bytes(b"half a mesh")
        os.kill(os.getpid(), signal.SIGKILL)  # the server process dies here

    pid = os.fork()
    if pid == 0:  # the "server"
        store.save(target, killed_halfway)
        os._exit(0)  # never reached
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert not target.exists()  # nothing at the name a later request would serve
    leftovers = list(folder.glob(PARTIAL + "*"))
    assert leftovers
    ResultStore(tmp_path / "store").sweep(time.time() + 120)  # the next start's sweep
    assert not list(folder.glob(PARTIAL + "*"))


def test_a_corrupt_checkpoint_stops_the_start_naming_the_file(app):
    files = sorted((app.common.CHECKPOINTS / "multiview3d" / "denoiser").glob("*.safetensors"))
    files[0].write_bytes(files[0].read_bytes()[:100])  # truncated
    app.common.pipeline.cache_clear()
    with pytest.raises(SystemExit, match=rf"{files[0].name}.*corrupt.*Restore the checkpoint"):
        app.preload()



def test_the_same_returned_image_twice_never_truncates_a_download_in_progress(app, tmp_path):
    """Gradio caches a returned image (gr.Image, gr.Gallery) at a path named by its hash, and 6.31 writes
    it in place: a second visitor getting the same image (same example, same seed) truncated the file
    under the first one's download (the soak test's "peer closed connection ... received 0 bytes").
    app.py installs lddbm.serving.atomic_gradio_image_cache. Measured with this loop: Gradio's own
    function gives ~1,600 short reads in ~15,000; the installed one none."""
    import threading

    import numpy as np
    from gradio import processing_utils
    from PIL import Image

    save = processing_utils.save_pil_to_cache
    assert getattr(save, "original", None) is not None  # installed by app.py
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    path = save(image, str(tmp_path), format="png")
    size, short, reads, stop = os.path.getsize(path), 0, 0, threading.Event()

    def download():  # the first visitor, fetching the file again and again
        nonlocal short, reads
        while not stop.is_set():
            with open(path, "rb") as f:
                short += len(f.read()) != size
            reads += 1

    reader = threading.Thread(target=download)
    reader.start()
    try:
        for _ in range(300):  # other visitors getting the same image
            assert save(image, str(tmp_path), format="png") == path
    finally:
        stop.set()
        reader.join()
    assert reads > 100 and short == 0, (short, reads)

    # a leftover of another size at that path (a write cut short) is replaced by a rename, not rewritten in place
    Path(path).write_bytes(b"cut")
    with open(path, "rb") as earlier:
        assert save(image, str(tmp_path), format="png") == path
        assert earlier.read() == b"cut" and os.path.getsize(path) == size
    assert not [p for p in os.listdir(os.path.dirname(path)) if p.startswith(PARTIAL)]


def test_the_cap_holds_at_write_time_oldest_entries_make_room(tmp_path):
    store = ResultStore(tmp_path / "store", max_bytes=2500, max_age_s=3600)
    now = time.time()
    folders = []
    for age in (300, 200, 100):
        folder = store.new_folder()
        store.save(folder / "r.bin", write_bytes(1000))
        os.utime(folder, (now - age, now - age))
        folders.append(folder)
        assert store.usage() <= 2500  # never over the cap after a write, without waiting for a sweep
    assert not folders[0].exists() and folders[1].exists() and folders[2].exists()
    with pytest.raises(StorageFull):  # a result larger than the whole cap is refused, nothing left behind
        store.save(folders[2] / "huge.bin", write_bytes(3000))
    assert not list(folders[2].glob("*huge*")) and folders[2].exists()


def test_uploads_reserve_room_first_and_concurrent_ones_cannot_overfill(tmp_path):
    store = ResultStore(tmp_path / "store", max_bytes=3000)
    old = store.new_folder()
    store.save(old / "r.bin", write_bytes(1000))
    recent = store.new_folder()  # a result handed out moments ago (still downloading): removed last
    store.save(recent / "r.bin", write_bytes(400))
    os.utime(old, (time.time() - 120,) * 2)
    with store.reserve(1100):
        with store.reserve(600):  # 1400 stored + 1700 > 3000: one entry must go, and it is the older
            assert not old.exists() and recent.exists()
    shutil.rmtree(recent)
    old = store.new_folder()
    store.save(old / "r.bin", write_bytes(1000))
    with store.reserve(1500):
        with pytest.raises(StorageFull, match="upload space is full"):
            with store.reserve(1600):  # even with `old` removed, 1500 held + 1600 > 3000
                pass
        assert not old.exists()  # the oldest entry went first, trying to make room
        with store.reserve(1400):  # fits beside the first upload
            pass
    with store.reserve(3000):  # released: the whole cap is free again
        pass


def test_a_full_disk_frees_the_oldest_half_and_the_write_is_tried_again(tmp_path):
    store = ResultStore(tmp_path / "store", max_bytes=10**9)
    folders = []
    for age in (400, 300, 200, 100):
        folder = store.new_folder()
        store.save(folder / "r.bin", write_bytes(10))
        os.utime(folder, (time.time() - age,) * 2)
        folders.append(folder)
    attempts = []

    def full_once(tmp):
        attempts.append(tmp)
        if len(attempts) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        tmp.write_bytes(b"ok")

    path = store.save(folders[3] / "new.bin", full_once)
    assert path.read_bytes() == b"ok" and len(attempts) == 2
    assert [f.exists() for f in folders] == [False, False, True, True]  # the oldest half, never the writer's


def test_abandoned_upload_temporaries_are_swept(tmp_path):
    store = ResultStore(tmp_path / "store")
    abandoned, fresh = store.root / "tmpabc123", store.root / "tmpdef456"
    abandoned.write_bytes(b"half an upload")
    fresh.write_bytes(b"an upload in progress")
    os.utime(abandoned, (time.time() - 900,) * 2)
    store.sweep()
    assert not abandoned.exists() and fresh.exists()


def test_heavy_work_never_runs_more_than_its_limit():
    import threading

    from lddbm.serving import HeavyWork

    heavy, gate = HeavyWork(2), threading.Barrier(2, timeout=5)
    inside = []

    def work(k):
        with heavy.slot(f"job {k}"):
            inside.append(heavy.running)
            time.sleep(0.05)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert heavy.peak == 2 and max(inside) <= 2 and heavy.running == 0 and len(inside) == 8


def test_room_is_never_made_by_removing_an_upload_being_received(tmp_path):
    """Gradio receives an upload into a tmp* file at the store's root; its bytes are held by the
    upload's reservation, so making room for another write must not delete it (the soak saw an upload
    fail with FileNotFoundError when it did)."""
    store = ResultStore(tmp_path / "store", max_bytes=1500)
    receiving = store.root / "tmpupload1"
    receiving.write_bytes(b"u" * 1000)
    with store.reserve(1000):
        folder = store.new_folder()
        with pytest.raises(StorageFull):
            store.save(folder / "r.bin", write_bytes(1000))  # 1000 reserved + 1000 > 1500: refused
        assert receiving.exists()


def test_an_image_handed_out_again_is_not_the_first_entry_a_full_store_removes(app, tmp_path):
    """The same returned image (same example, same seed) reuses Gradio's content-addressed folder. The store
    ages entries by the folder's time, so reusing the file must refresh the folder too: otherwise a disk flood
    removed the reused folder first, and the visitor's download got 403 (seen in the CI soak test)."""
    import numpy as np
    from gradio import processing_utils
    from PIL import Image

    store = ResultStore(tmp_path / "store", max_bytes=10**9)
    save = processing_utils.save_pil_to_cache
    before = save.store
    try:
        save.store = store
        image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8))
        folder = Path(save(image, str(store.root), format="png")).parent
        old = time.time() - 600
        os.utime(folder, (old, old))
        other = store.new_folder()  # someone else's result, newer than the image's first hand-out
        store.save(other / "r.bin", write_bytes(1000))
        os.utime(other, (old + 300, old + 300))
        assert Path(save(image, str(store.root), format="png")).parent == folder  # handed out again
        store.max_bytes = store.usage() - 10  # a flood: one entry must go
        assert store.make_room(0)
        assert folder.exists() and not other.exists()
    finally:
        save.store = before
