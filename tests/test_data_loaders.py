"""Loaders on fixture files in the real formats: the official dSprites .npz, MNIST IDX, the
download cache. Nothing here touches the network."""

import gzip
import hashlib
import importlib
import io
import os
import struct
import urllib.error

import numpy as np
import pytest

from refvae.data import (
    DownloadError,
    cache,
    data_dir,
    digits,
    download,
    dsprites,
    fashion_mnist,
    load_dsprites_npz,
    mnist,
    read_idx,
)
from refvae.data import images as images_module

# --- official dSprites ---------------------------------------------------------------------

SUBSET = np.array([[s, sc, o, x, y] for s in range(3) for sc in (0, 5) for o in (0, 13)
                   for x in (0, 31) for y in (3, 30)])  # 48 grid points, row-major order


def write_dsprites_fixture(path, factors=SUBSET, images=None):
    """An .npz in the official layout: imgs uint8 [N, 64, 64]; latents_classes int64 [N, 6]
    and latents_values float64 [N, 6] with columns (color, shape, scale, orientation, posX,
    posY); a pickled metadata dict, as the published file has."""
    if images is None:
        images = dsprites().observations_from_factors(factors)[..., 0].astype(np.uint8)
    classes = np.concatenate([np.zeros((len(factors), 1), np.int64), factors], axis=1)
    values = np.stack([
        np.ones(len(factors)),
        factors[:, 0] + 1.0,  # the official shape values are 1, 2, 3
        np.linspace(0.5, 1, 6)[factors[:, 1]],
        np.linspace(0, 2 * np.pi, 40)[factors[:, 2]],
        np.linspace(0, 1, 32)[factors[:, 3]],
        np.linspace(0, 1, 32)[factors[:, 4]],
    ], axis=1)
    metadata = np.array({"latents_sizes": np.array([1, 3, 6, 40, 32, 32])}, dtype=object)
    np.savez_compressed(path, metadata=metadata, imgs=images, latents_classes=classes,
                        latents_values=values)
    return images


def test_official_loader_reads_the_real_layout(tmp_path):
    path = tmp_path / "dsprites.npz"
    images = write_dsprites_fixture(path)
    data = dsprites(source="official", path=path)
    assert data.num_observations == 48 and not data.complete
    assert data.factor_sizes == (3, 6, 40, 32, 32)
    np.testing.assert_array_equal(data.factors_of(np.arange(48)), SUBSET)
    np.testing.assert_array_equal(data.observations_from_indices(np.arange(48))[..., 0], images)
    # Looking a row up by its factors: row 29 is SUBSET[29].
    assert data.index_of(SUBSET[[29]]).tolist() == [29]
    np.testing.assert_array_equal(data.observations_from_factors(SUBSET[[29, 3]])[..., 0],
                                  images[[29, 3]])
    assert data.latents_values[5, 0] == SUBSET[5, 0] + 1  # shape value kept, colour dropped


def test_official_subset_samples_only_rows_present_and_rejects_others(tmp_path):
    path = tmp_path / "dsprites.npz"
    write_dsprites_fixture(path)
    data = load_dsprites_npz(path)
    factors = data.sample_factors(500, np.random.default_rng(0))
    present = {tuple(row) for row in SUBSET.tolist()}
    assert all(tuple(row) in present for row in factors.tolist())
    with pytest.raises(ValueError, match="not in the file"):
        data.observations_from_factors([[0, 1, 0, 0, 3]])


def test_truncated_official_file_is_detected(tmp_path):
    path = tmp_path / "dsprites.npz"
    write_dsprites_fixture(path)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match="corrupted or truncated"):
        load_dsprites_npz(path)


def test_corrupted_official_file_is_detected(tmp_path):
    path = tmp_path / "dsprites.npz"
    write_dsprites_fixture(path)
    content = bytearray(path.read_bytes())
    start = content.find(b"imgs.npy") + 200  # inside the compressed images
    content[start:start + 64] = bytes(64)
    path.write_bytes(bytes(content))
    with pytest.raises(ValueError, match="corrupted or truncated"):
        load_dsprites_npz(path)


def test_official_file_with_wrong_structure_is_rejected(tmp_path):
    path = tmp_path / "no_classes.npz"
    np.savez(path, imgs=np.zeros((2, 64, 64), np.uint8), latents_values=np.zeros((2, 6)))
    with pytest.raises(ValueError, match="no 'latents_classes'"):
        load_dsprites_npz(path)
    grey = np.full((48, 64, 64), 7, np.uint8)
    write_dsprites_fixture(tmp_path / "grey.npz", images=grey)
    with pytest.raises(ValueError, match="binary"):
        load_dsprites_npz(tmp_path / "grey.npz")
    with pytest.raises(FileNotFoundError):
        load_dsprites_npz(tmp_path / "missing.npz")


def test_official_source_offline_names_the_procedural_default(tmp_path, monkeypatch):
    monkeypatch.setenv("REFVAE_DATA", str(tmp_path))

    def offline(url, timeout):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(cache, "_open_url", offline)
    with pytest.raises(DownloadError, match="source='procedural'"):
        dsprites(source="official", progress=False)
    assert os.listdir(tmp_path) == []  # no partial file left behind


def test_official_source_downloads_once_into_the_cache(tmp_path, monkeypatch):
    fixture = tmp_path / "fixture.npz"
    write_dsprites_fixture(fixture)
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("REFVAE_DATA", str(cache_dir))
    calls = []

    def serve(url, timeout):
        calls.append(url)
        return FakeResponse(fixture.read_bytes())

    monkeypatch.setattr(cache, "_open_url", serve)
    # the download is verified against the official SHA-1; here, against the fixture's
    dsprites_module = importlib.import_module("refvae.data.dsprites")
    monkeypatch.setattr(dsprites_module, "DSPRITES_SHA1", hashlib.sha1(fixture.read_bytes()).hexdigest())
    for _ in range(2):  # verified and cached, but 48 rows are not the complete grid of the official file
        with pytest.raises(ValueError, match="holds 48 images, not the official file's 737,280"):
            dsprites(source="official", progress=False)
    assert len(calls) == 1
    assert os.listdir(cache_dir) == ["dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"]
    assert dsprites(source="official", path=cache_dir / os.listdir(cache_dir)[0]).num_observations == 48


def test_official_download_with_another_sha1_is_refused_and_not_kept(tmp_path, monkeypatch):
    fixture = tmp_path / "fixture.npz"
    write_dsprites_fixture(fixture)
    monkeypatch.setenv("REFVAE_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_open_url", lambda url, timeout: FakeResponse(fixture.read_bytes()))
    with pytest.raises(DownloadError, match="expected 3e0a46a9238e425f46a6ef9e9bdfd7cedb35d50f"):
        dsprites(source="official", progress=False)
    assert os.listdir(tmp_path / "cache") == []


# --- the download cache --------------------------------------------------------------------

class FakeResponse(io.BytesIO):
    """An HTTP response: a body and a Content-Length header (possibly a lying one)."""

    def __init__(self, body, announced=None):
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body) if announced is None else announced)}


def test_data_dir_honours_refvae_data(tmp_path, monkeypatch):
    monkeypatch.setenv("REFVAE_DATA", str(tmp_path / "here"))
    assert data_dir() == str(tmp_path / "here") and os.path.isdir(tmp_path / "here")


def test_download_verifies_sha256_and_writes_atomically(tmp_path, monkeypatch):
    body = os.urandom(3000)
    digest = hashlib.sha256(body).hexdigest()
    monkeypatch.setattr(cache, "_open_url", lambda url, timeout: FakeResponse(body))
    target = tmp_path / "file.bin"
    download("https://example.invalid/file.bin", target, sha256=digest, progress=False)
    assert target.read_bytes() == body
    with pytest.raises(DownloadError, match="sha256"):
        download("https://example.invalid/file.bin", tmp_path / "bad.bin", sha256="0" * 64,
                 progress=False)
    assert sorted(os.listdir(tmp_path)) == ["file.bin"]  # nothing else, no .part file


def test_interrupted_download_leaves_no_file(tmp_path, monkeypatch):
    body = os.urandom(1000)
    monkeypatch.setattr(cache, "_open_url",
                        lambda url, timeout: FakeResponse(body, announced=5000))
    with pytest.raises(DownloadError, match="incomplete: received 1000 bytes"):
        download("https://example.invalid/f", tmp_path / "f", progress=True)
    assert os.listdir(tmp_path) == []


def test_download_of_a_local_file_url(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"refvae" * 100)
    target = download(source.as_uri(), tmp_path / "copy.bin", expected_size=600,
                      progress=False)
    assert open(target, "rb").read() == b"refvae" * 100


# --- MNIST IDX files -----------------------------------------------------------------------

def idx_bytes(array, code):
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    dtype = {0x08: ">u1", 0x0C: ">i4"}[code]
    return header + array.astype(dtype).tobytes()


def write_mnist_fixture(directory, compress=True):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28)).astype(np.uint8),
        "train-labels-idx1-ubyte": np.arange(20, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (5, 28, 28)).astype(np.uint8),
        "t10k-labels-idx1-ubyte": np.array([3, 1, 4, 1, 5], dtype=np.uint8),
    }
    for stem, array in arrays.items():
        content = idx_bytes(array, 0x08)
        if compress:
            with gzip.open(os.path.join(directory, stem + ".gz"), "wb") as out:
                out.write(content)
        else:
            with open(os.path.join(directory, stem), "wb") as out:
                out.write(content)
    return arrays


@pytest.mark.parametrize("loader,compress", [(mnist, True), (fashion_mnist, False)])
def test_mnist_reads_idx_files(tmp_path, loader, compress):
    arrays = write_mnist_fixture(tmp_path, compress)
    data = loader(directory=tmp_path)
    assert data.x_train.shape == (20, 28, 28, 1) and data.x_test.shape == (5, 28, 28, 1)
    np.testing.assert_allclose(data.x_train[..., 0] * 255, arrays["train-images-idx3-ubyte"],
                               atol=1e-4)
    assert data.y_test.tolist() == [3, 1, 4, 1, 5]
    assert data.factor_names == ("label",) and data.factor_sizes == (10,)
    assert data.factors_of(np.arange(20))[:, 0].tolist() == (np.arange(20) % 10).tolist()


def test_read_idx_handles_int32_and_rejects_bad_files(tmp_path):
    values = np.array([[-5, 70000], [1, 2], [3, 4]], dtype=np.int32)
    (tmp_path / "ints.idx").write_bytes(idx_bytes(values, 0x0C))
    np.testing.assert_array_equal(read_idx(tmp_path / "ints.idx"), values)
    full = idx_bytes(np.zeros((4, 28, 28), np.uint8), 0x08)
    (tmp_path / "short.idx").write_bytes(full[:-10])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        read_idx(tmp_path / "short.idx")
    (tmp_path / "magic.idx").write_bytes(b"\x01\x00" + full[2:])
    with pytest.raises(ValueError, match="bad magic"):
        read_idx(tmp_path / "magic.idx")
    with gzip.open(tmp_path / "cut.gz", "wb") as out:
        out.write(full)
    compressed = (tmp_path / "cut.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(ValueError, match="corrupted or truncated"):
        read_idx(tmp_path / "cut.gz")


def test_missing_idx_file_is_named(tmp_path):
    write_mnist_fixture(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        mnist(directory=tmp_path)


def test_mnist_offline_names_digits(monkeypatch):
    def offline(dataset):
        raise Exception("URL fetch failure on https://storage.googleapis.com: no network")

    monkeypatch.setattr(images_module, "_keras_load", offline)
    with pytest.raises(RuntimeError, match=r"digits\(\)"):
        mnist()
    with pytest.raises(RuntimeError, match=r"digits\(\)"):
        fashion_mnist()


# --- scikit-learn digits -------------------------------------------------------------------

def test_digits_are_scaled_split_and_labelled():
    data = digits()
    assert data.x_train.shape[1:] == (8, 8, 1)
    assert len(data.x_train) + len(data.x_test) == 1797
    assert abs(len(data.x_test) / 1797 - 0.2) < 0.01
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0  # 16 -> 1
    assert np.array_equal(data.images, data.x_train) and np.array_equal(data.labels,
                                                                        data.y_train)
    assert data.num_observations == len(data.x_train)


def test_digits_observations_from_labels_have_those_labels():
    data = digits()
    labels = np.array([[3], [3], [7], [0]])
    images = data.observations_from_factors(labels)
    rows = [np.flatnonzero((data.x_train == im).all(axis=(1, 2, 3)))[0] for im in images]
    assert data.y_train[rows].tolist() == [3, 3, 7, 0]
    assert rows[0] != rows[1]  # repeated labels get different images
    assert np.array_equal(images, data.observations_from_factors(labels))  # deterministic
    drawn = data.observations_from_factors(labels, rng=np.random.default_rng(0))
    rows = [np.flatnonzero((data.x_train == im).all(axis=(1, 2, 3)))[0] for im in drawn]
    assert data.y_train[rows].tolist() == [3, 3, 7, 0]
    with pytest.raises(TypeError, match="does not identify one image"):
        data.index_of(labels)
    with pytest.raises(ValueError, match="test_size"):
        digits(test_size=1.0)
