"""Hostile files: each one is refused with a ValueError naming the file, in bounded time and
memory (every case here peaks below a few MB, measured with tracemalloc; times are printed by
``pytest -s``, never asserted).

The files are built in the tests, small: a few hundred bytes that would make a naive loader
walk 2**40 paths, a 3 KB gzip file whose header claims 10**9 images, a checkpoint with a
compressed member that inflates to tens of MB, a JSON header nested 100,000 deep, labels that
are floats or 2**70, a FIFO where a file should be.
"""
import gzip
import json
import os
import struct
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import minicnn
from minicnn import data
from minicnn.data import load_cifar10, read_idx

# Every hostile file must be refused below this peak of traced memory.
PEAK_BYTES = 8 * 2 ** 20


def refused(call, match):
    """Run call(); it must raise ValueError matching ``match``; return (seconds, peak bytes)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=match):
            call()
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"\n  refused in {seconds * 1000:.1f} ms, peak {peak / 2 ** 20:.2f} MB: {match}")
    assert peak < PEAK_BYTES, f"peak traced memory {peak} bytes"
    return seconds, peak


def string(b):
    return b"C" + bytes([len(b)]) + b


def cifar_pickle(entries):
    """A protocol-2 pickle of a dict: ``entries`` maps keys to already-pickled values."""
    return b"\x80\x02}(" + b"".join(string(k) + v for k, v in entries.items()) + b"u."


def shared_lists(depth):
    """L_0 = [], L_k = [L_{k-1}, L_{k-1}] through memo references: ~8 bytes a level, 2**depth
    paths for anything that walks it as a tree."""
    out = b"]q\x00"
    for k in range(1, depth + 1):
        out += b"0](h" + bytes([k - 1]) + b"h" + bytes([k - 1]) + b"eq" + bytes([k])
    return out


ZEROS = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R"
         b"(K\x01K\x01M\x00\x0c\x86cnumpy\ndtype\nX\x02\x00\x00\x00u1K\x00K\x01\x87R(K\x03"
         b"X\x01\x00\x00\x00|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T\x00\x0c\x00\x00"
         + bytes(3072) + b"tb")  # a (1, 3072) uint8 array of zeros


def test_the_zeros_helper_is_a_valid_batch(tmp_path):
    (tmp_path / "test_batch").write_bytes(cifar_pickle({b"data": ZEROS, b"labels": b"]K\x03a"}))
    ds = load_cifar10(tmp_path, split="test")
    assert len(ds) == 1 and int(ds.arrays[1][0]) == 3


@pytest.mark.parametrize("where", ["labels", "filenames", "data", "batch_label", "extra"])
def test_cifar_shared_reference_blow_up_is_refused_in_linear_time(tmp_path, where):
    # 40 levels: 2**40 paths. Before, depth 24 took 29 s and 3.1 GB.
    entries = {b"data": ZEROS, b"labels": b"]K\x03a"}
    entries[where.encode()] = shared_lists(40)
    blob = cifar_pickle(entries)
    assert len(shared_lists(40)) < 500
    (tmp_path / "test_batch").write_bytes(blob)
    match = {"labels": "labels' must be a list of ints", "filenames": "'filenames' must be",
             "data": "'data' must be a uint8 array", "batch_label": "'batch_label' must be",
             "extra": "unexpected entries"}[where]
    refused(lambda: load_cifar10(tmp_path, split="test"), f"test_batch: .*{match}")


@pytest.mark.parametrize("target", [b"cnumpy\ndtype\n", b"c_codecs\nencode\n",
                                    b"cnumpy\nndarray\n",
                                    b"cnumpy.core.multiarray\n_reconstruct\n"])
def test_cifar_build_on_an_allowed_global_is_refused_and_changes_nothing(tmp_path, target):
    before = {name: dict(vars(cls)) for name, cls in (("dtype", data._PickledDtype),
                                                      ("array", data._PickledArray))}
    # BUILD with slot state (None, {"to_numpy": 1}): would setattr on the stand-in class.
    build = target + b"N}X\x08\x00\x00\x00to_numpyK\x01s\x86b0"
    (tmp_path / "test_batch").write_bytes(
        b"\x80\x02" + build + cifar_pickle({b"data": ZEROS, b"labels": b"]K\x03a"})[2:])
    refused(lambda: load_cifar10(tmp_path, split="test"), "test_batch: .*refusing BUILD")
    assert before == {name: dict(vars(cls)) for name, cls in (("dtype", data._PickledDtype),
                                                              ("array", data._PickledArray))}


@pytest.mark.parametrize("labels, match", [
    (b"]G@\x04\x00\x00\x00\x00\x00\x00a", "list of ints 0..9, found a float"),    # [2.5]
    (b"]\x8a\x09" + (2 ** 70).to_bytes(9, "little") + b"a", "found a huge int"),   # [2**70]
    (b"]\x88a", "list of ints 0..9, found a bool"),                                 # [True]
    (b"]K\x0ba", "labels must be 0..9, found 11"),
])
def test_cifar_labels_must_be_small_ints(tmp_path, labels, match):
    (tmp_path / "test_batch").write_bytes(cifar_pickle({b"data": ZEROS, b"labels": labels}))
    refused(lambda: load_cifar10(tmp_path, split="test"), f"test_batch: .*{match}")


def test_cifar_batch_larger_than_any_real_one_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MAX_CIFAR_BATCH_BYTES", 1000)
    (tmp_path / "test_batch").write_bytes(cifar_pickle({b"data": ZEROS, b"labels": b"]K\x03a"}))
    refused(lambda: load_cifar10(tmp_path, split="test"), "test_batch: .*more than the 1000")


def idx_header(n, h=28, w=28):
    return struct.pack(">IIII", 2051, n, h, w)


@pytest.mark.parametrize("n", [10 ** 9, 100_000])
def test_gzip_idx_claiming_more_than_it_can_hold_is_refused_before_inflating(tmp_path, n):
    # 2 MB of zeros compress to ~2 KB; the header claims 10**9 (or 10**5) 28x28 images.
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header(n) + bytes(2 * 2 ** 20)))
    assert path.stat().st_size < 5000
    refused(lambda: read_idx(path, "images"), r"t10k-images-idx3-ubyte.gz: truncated data: "
                                              r".*more than this .*gzip file can hold")


def test_gzip_idx_is_inflated_no_further_than_its_header_says(tmp_path):
    # Within the ratio bound but longer than declared: only expected + 1 bytes are inflated.
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header(2) + bytes(4 * 2 ** 20)))
    refused(lambda: read_idx(path, "images"), "unexpected bytes after the 1568 declared")


def test_idx_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    os.mkfifo(path)
    refused(lambda: read_idx(path, "labels"), "t10k-labels-idx1-ubyte' is a FIFO")


def checkpoint(tmp_path, extra=None, header=None, compress=zipfile.ZIP_STORED):
    """A real checkpoint, then rewritten member by member with changes."""
    good = tmp_path / "good.npz"
    minicnn.save({"w": np.arange(3.0)}, good)
    path = tmp_path / "ckpt.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w", compress) as dst:
        for info in src.infolist():
            raw = src.read(info)
            if header is not None and info.filename == "__minicnn__.npy":
                import io
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.frombuffer(header, np.uint8))
                raw = buf.getvalue()
            dst.writestr(info.filename, raw)
        for name, raw, how in (extra or []):
            dst.writestr(zipfile.ZipInfo(name), raw, compress_type=how)
    return path


def test_checkpoint_with_an_unreferenced_compressed_member_is_refused_unread(tmp_path):
    # Before, an 8 GiB member was inflated (8.2 GB RSS) before the header was looked at.
    bomb = bytes(32 * 2 ** 20)
    path = checkpoint(tmp_path, extra=[("junk.npy", bomb, zipfile.ZIP_DEFLATED)])
    del bomb
    assert path.stat().st_size < 200_000
    refused(lambda: minicnn.load(path), r"ckpt.npz.*'junk.npy' is compressed; minicnn.save "
                                        r"never writes compressed entries")


def test_checkpoint_whose_members_are_all_compressed_is_refused(tmp_path):
    path = checkpoint(tmp_path, compress=zipfile.ZIP_DEFLATED)
    refused(lambda: minicnn.load(path), r"ckpt.npz.* is compressed")


def test_checkpoint_with_an_unreferenced_stored_member_is_refused_unread(tmp_path):
    path = checkpoint(tmp_path, extra=[("junk.npy", bytes(100), zipfile.ZIP_STORED)])
    refused(lambda: minicnn.load(path), r"ckpt.npz.*entries \['junk'\] are not described")


def test_checkpoint_with_a_non_npy_member_is_refused(tmp_path):
    path = checkpoint(tmp_path, extra=[("evil.pkl", b"cos\nsystem\n", zipfile.ZIP_STORED)])
    refused(lambda: minicnn.load(path), r"ckpt.npz.*unexpected entry 'evil.pkl'")


def test_checkpoint_with_a_deeply_nested_json_header_is_refused(tmp_path):
    depth = 100_000
    header = (b'{"format":"minicnn","version":1,"root":' + b"[" * depth + b"]" * depth + b"}")
    path = checkpoint(tmp_path, header=header)
    refused(lambda: minicnn.load(path), r"ckpt.npz.*nested too deeply")


def test_checkpoint_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    path = tmp_path / "ckpt.npz"
    os.mkfifo(path)
    refused(lambda: minicnn.load(path), r"ckpt.npz' is a FIFO \(named pipe\), not a regular")


def test_checkpoint_that_is_a_directory_is_refused(tmp_path):
    refused(lambda: minicnn.load(tmp_path), "is a directory, not a regular file")


# ---------------------------------------------------------------------------------------------
# Huge sparse .safetensors files, header fields of the wrong type, a 1 MB gzip claiming 1.3 M
# images, a 5,000-deep structure to save
# ---------------------------------------------------------------------------------------------

def sparse_safetensors(path, size, header=None, length=None):
    """A ``size``-byte sparse file: an 8-byte header length (``length``, else that of
    ``header``), the JSON ``header``, then a hole (no disk blocks)."""
    text = b"" if header is None else json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text) if length is None else length) + text)
        f.truncate(size)
    return path


GiB = 2 ** 30


@pytest.mark.parametrize("size", [2 * GiB, 4 * GiB + 8])
@pytest.mark.parametrize("case", ["header length past the end", "header length 2**63",
                                  "tensors shorter than the file", "empty header"])
def test_huge_sparse_safetensors_costs_no_more_than_its_header(tmp_path, size, case):
    # Before, the whole file was read before its 8-byte header length was looked at: a 2 GiB
    # file took 6.7 s and 2.1 GB to refuse, a 4 GiB one ended in MemoryError.
    path = tmp_path / "model.safetensors"
    tensor = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
    if case == "header length past the end":
        sparse_safetensors(path, size, length=size)
        match = f"header claims {size} bytes"
    elif case == "header length 2**63":
        sparse_safetensors(path, size, length=2 ** 63)
        match = "header claims"
    elif case == "tensors shorter than the file":
        sparse_safetensors(path, size, tensor)
        match = "tensors take 16 bytes but the file holds"
    else:
        sparse_safetensors(path, size, length=0)
        match = "header is not valid JSON"
    assert path.stat().st_blocks * 512 < 2 ** 20  # sparse: the test itself costs no disk
    refused(lambda: minicnn.load(path), f"model.safetensors. as safetensors: (its )?{match}")


def test_safetensors_header_length_is_checked_against_the_file_first(tmp_path):
    # A header length within the format's limit but past the end of a small file.
    path = sparse_safetensors(tmp_path / "model.safetensors", 64, length=2 ** 20)
    refused(lambda: minicnn.load(path), "its header claims 1048576 bytes, more than the file "
                                        "holds")


@pytest.mark.parametrize("entry, match", [
    ({"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]},
     r'has dtype \["F32"\], which minicnn does not read'),
    ({"dtype": {"F32": 1}, "shape": [1], "data_offsets": [0, 4]}, "has dtype"),
    ({"dtype": "F32", "shape": "1", "data_offsets": [0, 4]}, "bad shape"),
    ({"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}, "bad shape"),
    ({"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}, "bad shape"),
    ({"dtype": "F32", "shape": [1], "data_offsets": [0.0, 4]}, "bad data_offsets"),
    ({"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}, "bad data_offsets"),
    ({"dtype": "F32", "shape": [1], "data_offsets": {"a": 0}}, "bad data_offsets"),
    ([1, 2], "should hold dtype, shape and data_offsets"),
])
def test_safetensors_header_fields_are_type_checked(tmp_path, entry, match):
    # Bug: a dtype written as a JSON list ended in "TypeError: unhashable type: 'list'" (a
    # traceback from `evaluate`).
    text = json.dumps({"w": entry}).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(4))
    refused(lambda: minicnn.load(path), match)


def test_safetensors_metadata_must_map_names_to_strings(tmp_path):
    text = json.dumps({"__metadata__": {"format": ["pt"]}}).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text)
    refused(lambda: minicnn.load(path), "__metadata__ should map names to strings")


def test_gzip_idx_claiming_1_3_million_images_is_refused_in_bounded_memory(tmp_path):
    # Within the ratio bound (1.02 GB claimed, 1 MB x 1032 allowed), but the data is not there.
    # Before, the claimed size was inflated in one read: MemoryError at 1.09 GB.
    path = tmp_path / "train-images-idx3-ubyte.gz"
    noise = np.random.default_rng(0).integers(0, 256, 2 ** 20, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(idx_header(1_300_000) + noise, compresslevel=1))
    assert 2 ** 20 < path.stat().st_size < 2 ** 20 + 2 ** 15
    refused(lambda: read_idx(path, "images"),
            r"truncated data: shape \(1300000, 28, 28\) needs 1019200000 bytes after the "
            r"header, found 1048576")


def test_gzip_idx_holding_more_than_it_claims_is_refused_by_its_trailer(tmp_path):
    # The 1 MB gzip inflates to 1.09 GB and claims 1.3 M images (1.02 GB): before,
    # the claimed size was inflated (MemoryError at 1.09 GB; 5.3 s and 1 GB where it fit).
    # Here scaled down: 32 MB of zeros claiming 20 MB. The gzip trailer (the inflated size)
    # says there is more than declared: refused before anything is inflated.
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header(25_000) + bytes(32 * 2 ** 20), compresslevel=1))
    assert path.stat().st_size < 200_000
    refused(lambda: read_idx(path, "images"), r"corrupt or truncated gzip data, or 13954432 "
                                              r"unexpected bytes after the 19600000 declared")


def test_gzip_idx_of_several_members_is_checked_in_bounded_memory(tmp_path):
    # Several gzip members: the trailer is only the last one's size. A valid file loads; one
    # whose first member holds more than declared is refused after counting, holding none of it.
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    raw = idx_header(2) + images.tobytes()
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(raw[:1000]) + gzip.compress(raw[1000:]))
    np.testing.assert_array_equal(read_idx(path, "images"), images)
    path.write_bytes(gzip.compress(idx_header(12_000) + bytes(16 * 2 ** 20))
                     + gzip.compress(bytes(10)))
    refused(lambda: read_idx(path, "images"), "some unexpected bytes after the 9408000 declared")


def test_saving_a_5000_deep_structure_is_refused_clearly(tmp_path):
    # Bug: RecursionError from deep inside the encoder.
    deep = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match="nested more than 100 containers deep"):
        minicnn.save(deep, tmp_path / "deep.npz")
    assert not list(tmp_path.iterdir())  # nothing written, no temporary left
    ok = []
    for _ in range(99):
        ok = [ok]
    minicnn.save(ok, tmp_path / "ok.npz")  # the deepest that saves loads back
    assert minicnn.load(tmp_path / "ok.npz") == ok
