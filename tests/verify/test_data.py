"""The IDX reader, the Fashion-MNIST lookup (data dir, cache, download) and digits.

There is no network in CI: downloads are served from file:// URLs and from a
fake URL opener, and the IDX files are written here, byte by byte.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from solver.errors import DlsolveError
from solver.verify import data

NAMES = list(data.FASHION_MNIST_MD5)


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """An IDX file written from the format's definition, independently of the reader."""
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[type_code]
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtype).tobytes()


def write(path: Path, payload: bytes, gz: bool) -> Path:
    path = path.with_name(path.name + ".gz") if gz else path
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def fake_fashion(
    folder: Path, *, gz: bool, n_train: int = 6, n_test: int = 4, seed: int = 0, size: int = 28
) -> dict[str, np.ndarray]:
    """The four files with random content; returns the arrays by file name."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, array in arrays.items():
        write(folder / name, idx_bytes(array), gz)
    return arrays


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty cache folder and mirrors that cannot be reached."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setattr(data, "FASHION_MNIST_MIRRORS", ((tmp_path / "no-mirror").as_uri() + "/",))
    return cache / "dlsolve" / "fashion-mnist"


# --------------------------------------------------------------------------- IDX reader


@pytest.mark.parametrize("gz", [False, True])
def test_idx_files_plain_and_gzipped_read_back_their_arrays(tmp_path: Path, gz: bool) -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write(tmp_path / "images-idx3-ubyte", idx_bytes(images), gz)
    out = data.read_idx(path)
    assert out.shape == (2, 3, 4) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, images)


def test_idx_reader_honours_the_type_code() -> None:
    values = np.array([[-300, 7], [1, 32000]])
    assert data.parse_idx(idx_bytes(values, 0x0B)).tolist() == values.tolist()
    floats = np.array([0.5, -2.25])
    assert data.parse_idx(idx_bytes(floats, 0x0D)).tolist() == [0.5, -2.25]


def test_bad_magic_number_is_reported_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x50\x4b\x03\x04" + bytes(16))  # a zip file, say
    with pytest.raises(DlsolveError) as err:
        data.read_idx(path)
    assert str(path) in str(err.value) and "bad magic number 0x504b0304" in str(err.value)


def test_unknown_type_code_is_a_bad_magic_number() -> None:
    with pytest.raises(DlsolveError, match="bad magic"):
        data.parse_idx(bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 5]), "x")


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_file_says_how_many_bytes_are_missing(tmp_path: Path, gz: bool) -> None:
    full = idx_bytes(np.zeros((3, 28, 28), dtype=np.uint8))
    path = write(tmp_path / "t10k-images-idx3-ubyte", full[:-100], gz)
    with pytest.raises(DlsolveError) as err:
        data.read_idx(path)
    message = str(err.value)
    assert "truncated" in message and f"needs {len(full)} bytes" in message
    assert f"has {len(full) - 100}" in message


def test_trailing_bytes_and_a_cut_header_are_errors() -> None:
    good = idx_bytes(np.zeros(5, dtype=np.uint8))
    with pytest.raises(DlsolveError, match="longer than its header says"):
        data.parse_idx(good + b"\x00", "labels")
    with pytest.raises(DlsolveError, match="ends inside it"):
        data.parse_idx(good[:6], "labels")


def test_broken_gzip_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(9, dtype=np.uint8)))[:-8])
    with pytest.raises(DlsolveError, match="cannot read this file"):
        data.read_idx(path)


# --------------------------------------------------------------------------- Fashion-MNIST


def test_fashion_mnist_from_data_dir_mixing_plain_and_gz(tmp_path: Path) -> None:
    folder = tmp_path / "fm"
    arrays = fake_fashion(folder, gz=True)
    # one file uncompressed: each file may be either
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    write(folder / "t10k-labels-idx1-ubyte", idx_bytes(arrays["t10k-labels-idx1-ubyte"]), False)
    ds = data.load_fashion_mnist(folder)
    assert ds.x_train.shape == (6, 1, 28, 28) and ds.x_test.shape == (4, 1, 28, 28)
    assert ds.image_shape == (1, 28, 28) and ds.classes == 10
    np.testing.assert_array_equal(ds.y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])
    # standardized with the training set's statistics, applied to both sets
    pixels = arrays["train-images-idx3-ubyte"] / 255.0
    mean, std = pixels.mean(), pixels.std()
    expected = (arrays["t10k-images-idx3-ubyte"] / 255.0 - mean) / std
    np.testing.assert_allclose(ds.x_test[:, 0], expected, rtol=1e-5, atol=1e-5)
    assert abs(float(ds.x_train.mean())) < 1e-5


def test_data_dir_comes_before_the_cache_and_the_cache_before_a_download(
    tmp_path: Path, isolated_cache: Path
) -> None:
    mine = fake_fashion(tmp_path / "mine", gz=False, seed=1)
    cached = fake_fashion(isolated_cache, gz=True, seed=2)
    ds = data.load_fashion_mnist(tmp_path / "mine")
    np.testing.assert_array_equal(ds.y_train, mine["train-labels-idx1-ubyte"])
    ds = data.load_fashion_mnist(None)
    np.testing.assert_array_equal(ds.y_train, cached["train-labels-idx1-ubyte"])
    ds = data.load_fashion_mnist(tmp_path / "empty")  # named but empty: the cache still counts
    np.testing.assert_array_equal(ds.y_train, cached["train-labels-idx1-ubyte"])


def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, np.ndarray]:
    """A mirror folder with the four .gz files, whose MD5s become the expected ones."""
    mirror = tmp_path / "mirror"
    arrays = fake_fashion(mirror, gz=True, seed=3)
    md5 = {n: hashlib.md5((mirror / f"{n}.gz").read_bytes()).hexdigest() for n in NAMES}
    monkeypatch.setattr(data, "FASHION_MNIST_MD5", md5)
    monkeypatch.setattr(data, "FASHION_MNIST_MIRRORS", (mirror.as_uri() + "/",))
    return arrays


def test_download_from_a_file_url_fills_the_cache_once(
    tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrays = serve(tmp_path, monkeypatch)
    calls = []
    real = data.urllib.request.urlopen
    monkeypatch.setattr(
        data.urllib.request,
        "urlopen",
        lambda url, timeout: calls.append(url) or real(url, timeout=timeout),
    )
    ds = data.load_fashion_mnist(None)
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert len(calls) == 4 and all(u.startswith("file://") for u in calls)
    assert sorted(p.name for p in isolated_cache.iterdir()) == sorted(f"{n}.gz" for n in NAMES)
    data.load_fashion_mnist(None)
    assert len(calls) == 4  # the second time, everything comes from the cache


def test_download_falls_back_to_the_next_mirror(
    tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fake opener: the first mirror is unreachable, the second answers over 'https'."""
    arrays = serve(tmp_path, monkeypatch)
    monkeypatch.setattr(
        data, "FASHION_MNIST_MIRRORS", ("http://down.example/", "https://up.example/fm/")
    )

    def opener(url: str, timeout: float) -> io.BytesIO:
        assert timeout == data.DOWNLOAD_TIMEOUT
        if url.startswith("http://down.example/"):
            raise urllib.error.URLError("Name or service not known")
        return io.BytesIO((tmp_path / "mirror" / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(data.urllib.request, "urlopen", opener)
    ds = data.load_fashion_mnist(None)
    np.testing.assert_array_equal(ds.y_train, arrays["train-labels-idx1-ubyte"])


def test_a_wrong_checksum_keeps_nothing(
    tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(tmp_path, monkeypatch)
    monkeypatch.setitem(data.FASHION_MNIST_MD5, NAMES[0], "0" * 32)
    with pytest.raises(DlsolveError) as err:
        data.load_fashion_mnist(None)
    assert "wrong MD5" in str(err.value) and NAMES[0] in str(err.value)
    assert not list(isolated_cache.glob(f"{NAMES[0]}*"))  # no file, no .part left behind


def test_missing_files_name_all_four_files_and_both_folders(
    tmp_path: Path, isolated_cache: Path
) -> None:
    with pytest.raises(DlsolveError) as err:
        data.load_fashion_mnist(tmp_path / "course-data")
    message = str(err.value)
    assert "\n" not in message
    for name in NAMES:
        assert f"{name}.gz" in message
    assert "missing:" not in message  # all four are: the list above says it
    assert str(tmp_path / "course-data") in message and str(isolated_cache) in message
    assert "download failed" in message and "no-mirror" in message


def test_a_partial_folder_names_the_missing_file(tmp_path: Path) -> None:
    fake_fashion(tmp_path / "fm", gz=True)
    (tmp_path / "fm" / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DlsolveError, match="; missing: t10k-images-idx3-ubyte;"):
        data.load_fashion_mnist(tmp_path / "fm")


def test_images_and_labels_must_match(tmp_path: Path) -> None:
    folder = tmp_path / "fm"
    fake_fashion(folder, gz=False)
    write(folder / "train-labels-idx1-ubyte", idx_bytes(np.zeros(5, dtype=np.uint8)), False)
    with pytest.raises(DlsolveError, match="6 images but 5 labels"):
        data.load_fashion_mnist(folder)
    write(folder / "train-labels-idx1-ubyte", idx_bytes(np.zeros((6, 2), dtype=np.uint8)), False)
    with pytest.raises(DlsolveError, match=r"shape \[N\], got uint8 \[6, 2\]"):
        data.load_fashion_mnist(folder)
    write(folder / "train-labels-idx1-ubyte", idx_bytes(np.full(6, 10, dtype=np.uint8)), False)
    with pytest.raises(DlsolveError, match="label 10 is not one of the 10 classes"):
        data.load_fashion_mnist(folder)


# --------------------------------------------------------------------------- digits


def test_digits_is_a_fixed_standardized_split() -> None:
    pytest.importorskip("sklearn")
    a, b = data.load("digits"), data.load("digits")
    assert a.image_shape == (1, 8, 8) and a.classes == 10
    assert (len(a.y_train), len(a.y_test)) == (1348, 449)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert set(np.unique(a.y_train)) == set(range(10))
    assert abs(float(a.x_train.mean())) < 1e-5 and abs(float(a.x_train.std()) - 1) < 1e-4
    # the split is a partition: no test image is also a training image
    train = {row.tobytes() for row in a.x_train}
    assert not any(row.tobytes() in train for row in a.x_test)


def test_digits_read_without_importing_sklearn_are_sklearns_digits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The file read directly gives bit for bit what ``sklearn.datasets.load_digits`` gives."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    assert data._digits_file() is not None  # the fast path is the one taken here
    fast = data.load_digits()
    monkeypatch.setattr(data, "_digits_file", lambda: None)
    api = data.load_digits()
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert getattr(fast, name).dtype == getattr(api, name).dtype
        np.testing.assert_array_equal(getattr(fast, name), getattr(api, name))
    bunch = sklearn_datasets.load_digits()
    assert len(fast.y_train) + len(fast.y_test) == len(bunch.target)


def test_unknown_dataset_is_an_error() -> None:
    with pytest.raises(DlsolveError, match="unknown dataset 'mnist'"):
        data.load("mnist")
