"""The datasets of the training experiments, read with numpy alone (never torchvision).

Fashion-MNIST is what the problem sets ask for (IST 597, Com S 573); it ships
as four IDX files that we read ourselves, so that the training extra stays
small and a student can point ``--data-dir`` at the files a course handed out.
They are looked for in ``--data-dir``, then in a cache folder, and only then
downloaded once (checksums checked) when a network is there; if all of that
fails the error says which four files to put where.

``digits`` (scikit-learn's 8x8 handwritten digits) needs no network and no
files, which makes it the dataset of the tests and of quick runs.

Images come out as float32 ``[N, 1, H, W]`` standardized with the training
set's mean and standard deviation; labels as int64 ``[N]``.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DlsolveError
from . import require

DATASETS = ("fashion-mnist", "digits")

# --------------------------------------------------------------------------- IDX files

#: IDX type codes (third byte of the magic number) -> big-endian numpy dtype
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """An IDX file's contents as an array: magic ``00 00 type ndim``, big-endian int32
    sizes, then the values. Anything else is a DlsolveError naming the file."""

    def fail(why: str) -> DlsolveError:
        return DlsolveError(f"not a valid IDX file: {why}", file=name)

    if len(data) < 4:
        raise fail(f"only {len(data)} bytes, too short for the magic number")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise fail(
            f"bad magic number 0x{data[:4].hex()} (expected 0x0000TTNN with type TT "
            f"one of {', '.join(f'{t:02x}' for t in IDX_TYPES)})"
        )
    dtype, ndim = np.dtype(IDX_TYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise fail(f"the header announces {ndim} dimensions but the file ends inside it")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise fail(f"{what}: shape {list(shape)} needs {expected} bytes, the file has {len(data)}")
    return np.frombuffer(data, dtype, offset=header).reshape(shape)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not (recognised by its content, not its name)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DlsolveError("no such file", file=str(p)) from None
    except (OSError, EOFError, zlib.error) as err:
        raise DlsolveError(f"cannot read this file ({err})", file=str(p)) from None
    return parse_idx(raw, str(p))


# --------------------------------------------------------------------------- Fashion-MNIST

#: the four official files and the MD5 of each ``.gz`` as published by Zalando Research
FASHION_MNIST_MD5 = {
    "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
}
#: where the official files are published, tried in order
FASHION_MNIST_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
DOWNLOAD_TIMEOUT = 10.0  # seconds without an answer before a mirror counts as unreachable
MAX_DOWNLOAD_BYTES = 64 * 2**20  # the largest official file is about 26 MB


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/dlsolve/fashion-mnist``, else ``~/.cache/dlsolve/fashion-mnist``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dlsolve" / "fashion-mnist"


def find_file(name: str, folders: list[Path]) -> Path | None:
    """The first ``name`` or ``name.gz`` in ``folders``, in order."""
    for folder in folders:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def download(name: str, dest: Path) -> Path:
    """Fetch ``name.gz`` into ``dest`` from the first mirror that serves it with the right MD5.

    Raises OSError with the reason of every mirror when none does. The file
    appears under its final name only once its checksum is right.
    """
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"{name}.gz"
    partial = dest / f"{name}.gz.part"
    reasons = []
    for mirror in FASHION_MNIST_MIRRORS:
        url = mirror + f"{name}.gz"
        md5 = hashlib.md5(usedforsecurity=False)
        try:
            with (
                urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response,
                partial.open("wb") as out,
            ):
                size = 0
                while chunk := response.read(1 << 20):
                    size += len(chunk)
                    if size > MAX_DOWNLOAD_BYTES:
                        raise OSError(f"more than {MAX_DOWNLOAD_BYTES} bytes")
                    md5.update(chunk)
                    out.write(chunk)
        except (OSError, ValueError) as err:  # URLError and timeouts are OSErrors
            partial.unlink(missing_ok=True)
            reasons.append(f"{url}: {getattr(err, 'reason', err)}")
            continue
        if md5.hexdigest() != FASHION_MNIST_MD5[name]:
            partial.unlink(missing_ok=True)
            reasons.append(f"{url}: wrong MD5 {md5.hexdigest()}")
            continue
        partial.replace(target)
        return target
    raise OSError("; ".join(reasons))


def fashion_mnist_files(data_dir: Path | None = None) -> dict[str, Path]:
    """The path of each of the four files: from ``data_dir``, the cache, or a download.

    When a file is nowhere and cannot be downloaded, the DlsolveError names all
    four files and the folders where they may be put.
    """
    folders = [Path(data_dir)] if data_dir is not None else []
    folders.append(cache_dir())
    found: dict[str, Path] = {}
    failure = ""
    for name in FASHION_MNIST_MD5:
        path = find_file(name, folders)
        if path is None and not failure:
            try:
                path = download(name, cache_dir())
            except OSError as err:
                failure = str(err)
        if path is not None:
            found[name] = path
    missing = [n for n in FASHION_MNIST_MD5 if n not in found]
    if missing:
        names = ", ".join(f"{n}.gz" for n in FASHION_MNIST_MD5)
        where = (
            f"{data_dir} (--data-dir) or {cache_dir()}"
            if data_dir
            else f"{cache_dir()} or a folder given with --data-dir"
        )
        which = f"; missing: {', '.join(missing)}" if len(missing) < len(FASHION_MNIST_MD5) else ""
        raise DlsolveError(
            f"Fashion-MNIST is not here: put {names} (gzip-compressed or not) in "
            f"{where}{which}; the download failed ({failure or 'skipped'})",
            field="dataset",
        )
    return found


@dataclass
class Dataset:
    """Train and test images ``[N, C, H, W]`` (float32, standardized) and labels (int64)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)


def standardized(
    name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    classes: int,
) -> Dataset:
    """A Dataset whose pixels are shifted and scaled by the training set's mean and std."""
    x_train, x_test = x_train.astype(np.float32), x_test.astype(np.float32)
    mean, std = float(x_train.mean()), float(x_train.std()) or 1.0
    return Dataset(
        name,
        (x_train - mean) / std,
        y_train.astype(np.int64),
        (x_test - mean) / std,
        y_test.astype(np.int64),
        classes,
    )


def _images_and_labels(images: Path, labels: Path, classes: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = read_idx(images), read_idx(labels)
    if x.dtype != np.uint8 or x.ndim != 3:
        raise DlsolveError(
            f"expected unsigned bytes of shape [N, H, W], got {x.dtype} {list(x.shape)}",
            file=str(images),
        )
    if y.dtype != np.uint8 or y.ndim != 1:
        raise DlsolveError(
            f"expected unsigned bytes of shape [N], got {y.dtype} {list(y.shape)}", file=str(labels)
        )
    if len(x) != len(y):
        raise DlsolveError(
            f"{len(x)} images but {len(y)} labels in {labels.name}", file=str(images)
        )
    if len(y) and int(y.max()) >= classes:
        raise DlsolveError(
            f"label {int(y.max())} is not one of the {classes} classes", file=str(labels)
        )
    return x[:, None, :, :], y


def load_fashion_mnist(data_dir: Path | None = None) -> Dataset:
    """Fashion-MNIST: 60 000 training and 10 000 test images of 28x28, 10 classes."""
    files = fashion_mnist_files(data_dir)
    x_train, y_train = _images_and_labels(
        files["train-images-idx3-ubyte"], files["train-labels-idx1-ubyte"], 10
    )
    x_test, y_test = _images_and_labels(
        files["t10k-images-idx3-ubyte"], files["t10k-labels-idx1-ubyte"], 10
    )
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DlsolveError(
            f"training images are {list(x_train.shape[2:])} but test images "
            f"{list(x_test.shape[2:])}",
            file=str(files["t10k-images-idx3-ubyte"]),
        )
    return standardized("fashion-mnist", x_train / 255.0, y_train, x_test / 255.0, y_test, 10)


# --------------------------------------------------------------------------- digits

DIGITS_TEST_FRACTION = 0.25
DIGITS_SPLIT_SEED = 0  # fixed: every run and every machine sees the same split


def _digits_file() -> Path | None:
    """scikit-learn's ``digits.csv.gz``, found without importing scikit-learn.

    ``import sklearn.datasets`` pulls in scipy and takes about four seconds,
    which is longer than a short experiment on these 1797 images trains; the
    file is the same one ``sklearn.datasets.load_digits`` reads.
    """
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            return path
    return None


def load_digits() -> Dataset:
    """scikit-learn's 1797 handwritten digits (8x8, values 0..16), split 75/25 with a fixed seed."""
    path = _digits_file()
    if path is not None:  # 64 pixels then the label per row, as load_digits reads them
        with gzip.open(path, "rt", encoding="ascii") as f:
            rows = np.loadtxt(f, delimiter=",")
        images, target = rows[:, :-1].reshape(-1, 8, 8), rows[:, -1].astype(np.int64)
    else:  # another layout, or scikit-learn missing: its API, or the install hint
        bunch = require("sklearn.datasets").load_digits()
        images, target = bunch.images, bunch.target
    x = np.asarray(images, dtype=np.float64)[:, None, :, :] / 16.0
    y = np.asarray(target)
    order = np.random.RandomState(DIGITS_SPLIT_SEED).permutation(len(y))
    n_test = round(len(y) * DIGITS_TEST_FRACTION)
    test, train = order[:n_test], order[n_test:]
    return standardized("digits", x[train], y[train], x[test], y[test], 10)


def load(name: str, data_dir: Path | None = None) -> Dataset:
    """A dataset by name: ``fashion-mnist`` or ``digits``."""
    if name == "fashion-mnist":
        return load_fashion_mnist(data_dir)
    if name == "digits":
        return load_digits()
    raise DlsolveError(
        f"unknown dataset {name!r}: use one of {', '.join(DATASETS)}", field="dataset"
    )
