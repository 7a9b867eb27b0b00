"""minicnn.save/load with .safetensors: round trips, interop with the safetensors package's own
reader and writer (and, opt-in, PyTorch), and hostile files refused."""
import json
import struct

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn


def _model():
    minicnn.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(16, 2))


def test_state_dict_round_trip(tmp_path):
    model = _model()
    path = tmp_path / "model.safetensors"
    minicnn.save(model.state_dict(), path)
    loaded = minicnn.load(path)
    assert list(loaded) == list(model.state_dict())
    other = _model()
    for p in other.parameters():
        p.data[...] = 0
    other.load_state_dict(loaded)
    for (k, a), b in zip(model.state_dict().items(), other.state_dict().values()):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=k)
    assert loaded["1.num_batches_tracked"].dtype == np.int64
    with pytest.raises(TypeError, match="flat dict"):
        minicnn.save([1, 2], tmp_path / "list.safetensors")


def test_reads_what_the_safetensors_package_writes_and_the_other_way(tmp_path):
    st = pytest.importorskip("safetensors.numpy",
                             reason="the optional safetensors package is not installed")
    arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(3, np.float64),
              "n": np.array(7, np.int64), "mask": np.array([True, False])}
    theirs = tmp_path / "theirs.safetensors"
    st.save_file(arrays, str(theirs))
    loaded = minicnn.load(theirs)
    assert set(loaded) == set(arrays)
    for k in arrays:
        np.testing.assert_array_equal(loaded[k], arrays[k])
        assert loaded[k].dtype == arrays[k].dtype
    ours = tmp_path / "ours.safetensors"
    minicnn.save(_model().state_dict(), ours)
    back = st.load_file(str(ours))
    for k, v in _model().state_dict().items():
        np.testing.assert_array_equal(back[k], np.asarray(v))


def test_a_state_dict_moves_to_pytorch_and_back(tmp_path):
    torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    st_torch = pytest.importorskip("safetensors.torch", reason="needs safetensors' torch API")
    model = _model()
    path = tmp_path / "m.safetensors"
    minicnn.save(model.state_dict(), path)
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4),
                                 torch.nn.Flatten(), torch.nn.Linear(16, 2))
    theirs.load_state_dict(st_torch.load_file(str(path)))
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32)
    model.eval()
    theirs.eval()
    np.testing.assert_allclose(model(minicnn.tensor(x)).data,
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    st_torch.save_file(theirs.state_dict(), str(tmp_path / "t.safetensors"))
    model.load_state_dict(minicnn.load(tmp_path / "t.safetensors"))


def _file(header, data=b""):
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


@pytest.mark.parametrize("blob, match", [
    (b"abc", "shorter"),
    (struct.pack("<Q", 2 ** 40) + b"{}", "claims"),
    (struct.pack("<Q", 3) + b"{{{", "not valid JSON"),
    (struct.pack("<Q", 200000) + b"[" * 100000 + b"]" * 100000, "not valid JSON"),
    (_file([1, 2]), "not a JSON object"),
    (_file({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}), "holds 0"),
    (_file({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4), "needs 8"),
    (_file({"w": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8), "dtype"),
    (_file({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}), "shape"),
    (_file({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
            "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}, b"\0" * 3), "expected"),
    (_file({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1], "x": 1}}, b"\0"),
     "should hold"),
])
def test_hostile_safetensors_files_are_refused(tmp_path, blob, match):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(blob)
    with pytest.raises(ValueError, match=match) as info:
        minicnn.load(path)
    assert "bad.safetensors" in str(info.value)
