"""Course data: sample photos shipped in pip packages, ImageNet samples, CIFAR-10, paintings.

Where data is looked for, in order (per data set, the first place that has it wins):

1. the folder(s) named by the environment variable ``COURSE_DATA`` (several: separated by ``:``);
2. ``data/`` in the project folder (where ``python -m helpers.data download`` writes);
3. ``../shared/data`` beside the project (the read-only copy used by CI).

Images come back as ``uint8`` NumPy arrays of shape ``(H, W, 3)`` (``(H, W)`` for the
grayscale textures) unless said otherwise. Nothing here is an exercise.

Command line::

    python -m helpers.data status            # where each data set was found
    python -m helpers.data download [NAME]   # fetch what is missing (cifar10, imagenet-samples, styles, content)
"""
from __future__ import annotations

import io
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from .utils import CourseError, read_image, unknown

DATA_ENV = "COURSE_DATA"
DOWNLOAD_HINT = "run `bash course.sh data {name}` in the course folder (needs the internet once)"

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]

# Public sources (see ../shared/data/README.md). Sizes and checksums where they are fixed.
SOURCES = {
    "cifar10": dict(url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                    size=170498071, md5="c58f30108f718f92721af3b95e74349a"),
    "imagenet-samples": dict(
        url="https://github.com/EliSchwartz/imagenet-sample-images/archive/refs/heads/master.zip"),
    "styles": dict(base="https://raw.githubusercontent.com/jcjohnson/neural-style/master/examples/inputs/",
                   files=["starry_night.jpg", "the_scream.jpg", "shipwreck.jpg",
                          "woman-with-hat-matisse.jpg"]),
    "content": dict(base="https://raw.githubusercontent.com/jcjohnson/neural-style/master/examples/inputs/",
                    files=["tubingen.jpg"]),
}
DATASETS = list(SOURCES)
LAYOUT = {  # what a complete data set looks like, for people copying it by hand
    "cifar10": "cifar10/train/<class>/NNNN.jpg and cifar10/test/<class>/NNNN.jpg (10 classes)",
    "imagenet-samples": "imagenet-samples/nXXXXXXXX_<name>.jpg (1000 files, one per class)",
    "styles": "styles/starry_night.jpg, the_scream.jpg, shipwreck.jpg, woman-with-hat-matisse.jpg",
    "content": "content/tubingen.jpg",
}
_MARKERS = {  # a file or folder whose presence says the data set is complete
    "cifar10": "cifar10/test/truck",
    "imagenet-samples": "imagenet-samples",
    "styles": "styles/starry_night.jpg",
    "content": "content/tubingen.jpg",
}


# ----------------------------------------------------------------------------- locations
def project_root() -> Path:
    """The course folder: the nearest parent of this package holding ``course.sh``."""
    here = Path(__file__).resolve().parent
    for p in [here.parent, *here.parent.parents][:4]:
        if (p / "course.sh").exists():
            return p
    return here.parent


def candidate_roots(project: Path | None = None) -> list[Path]:
    """Data roots in the order they are searched: the folders named by ``COURSE_DATA`` (one,
    or several separated by ``os.pathsep``), ``<project>/data``, ``<project>/../shared/data``.
    The one rule, used by the library and by the grader's sandbox (which mounts the roots
    that exist and names them in ``COURSE_DATA`` inside)."""
    roots = [Path(p).expanduser() for p in os.environ.get(DATA_ENV, "").split(os.pathsep) if p.strip()]
    root = Path(project) if project else project_root()
    return roots + [root / "data", root.parent / "shared" / "data"]


def find(dataset: str) -> Path:
    """The data root that holds ``dataset``; a clear error naming the download command if none."""
    if dataset not in _MARKERS:
        raise unknown("data set", dataset, DATASETS)
    for r in candidate_roots():
        if (r / _MARKERS[dataset]).exists():
            return r / dataset
    where = ", ".join(str(r) for r in candidate_roots())
    raise CourseError(f"data set {dataset!r} not found (looked in {where}); "
                      + DOWNLOAD_HINT.format(name=dataset))


# ----------------------------------------------------------------------------- images
def load_image(path, size: int | None = None) -> np.ndarray:
    """Read an image file as ``uint8 (H, W, 3)``; with ``size``, scale its long side to ``size``."""
    im = read_image(path)
    if size:
        s = size / max(im.size)
        im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.Resampling.LANCZOS)
    return np.asarray(im).copy()


def _skimage(name):
    from skimage import data as skd
    if name == "motorcycle":
        return skd.stereo_motorcycle()[0]
    return getattr(skd, name)()


def _sklearn(name):
    from sklearn.datasets import load_sample_image
    return load_sample_image(f"{name}.jpg")


def _matplotlib(name):
    import matplotlib.cbook as cbook
    with cbook.get_sample_data(f"{name}.jpg") as f:
        return np.asarray(Image.open(f).convert("RGB"))


SAMPLE_IMAGES = {
    **{n: _skimage for n in ["astronaut", "chelsea", "coffee", "rocket", "motorcycle",
                             "hubble_deep_field", "brick", "grass", "gravel"]},
    "china": _sklearn, "flower": _sklearn, "grace_hopper": _matplotlib,
}
TEXTURES = ["brick", "grass", "gravel"]


def sample_image(name: str) -> np.ndarray:
    """A photo or texture that ships inside scikit-image, scikit-learn or matplotlib.

    Photos are ``uint8 (H, W, 3)``; the textures brick, grass and gravel are grayscale
    ``uint8 (H, W)``. Names: see ``SAMPLE_IMAGES``.
    """
    if name not in SAMPLE_IMAGES:
        raise unknown("sample image", name, list(SAMPLE_IMAGES))
    return np.ascontiguousarray(SAMPLE_IMAGES[name](name))


def imagenet_sample_files() -> list[Path]:
    """The 1000 ImageNet sample files, sorted: the n-th file shows class n."""
    files = sorted(find("imagenet-samples").glob("*.jpg"))
    if len(files) != 1000:
        raise CourseError(f"expected 1000 ImageNet samples in {find('imagenet-samples')}, found "
                          f"{len(files)}; " + DOWNLOAD_HINT.format(name="imagenet-samples"))
    return files


def imagenet_sample(index: int) -> np.ndarray:
    """The sample photo of ImageNet class ``index`` (0-999), ``uint8 (H, W, 3)``."""
    if not 0 <= int(index) < 1000:
        raise CourseError(f"ImageNet class index must be in 0..999, got {index}")
    return load_image(imagenet_sample_files()[int(index)])


def imagenet_sample_crops(side: int = 224, every: int = 1, progress: bool = True) -> np.ndarray:
    """Every ``every``-th ImageNet sample as its centre crop: ``uint8 (N, side, side, 3)``.

    The usual evaluation crop: the short side resized to ``side / 0.875``, then the centre
    square. Sample ``i`` of the result shows class ``i * every``.
    """
    from tqdm.auto import tqdm
    files = imagenet_sample_files()[::every]
    out = np.empty((len(files), side, side, 3), np.uint8)
    for i, f in enumerate(tqdm(files, desc="ImageNet samples", disable=not progress, leave=False)):
        im = read_image(f)
        s = round(side / 0.875) / min(im.size)
        im = im.resize((max(side, round(im.width * s)), max(side, round(im.height * s))), Image.Resampling.BILINEAR)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        out[i] = np.asarray(im.crop((left, top, left + side, top + side)))
    return out


def _image_set(dataset: str, name: str | None, size: int | None):
    folder = find(dataset)
    files = {p.stem: p for p in sorted(folder.glob("*.jpg"))}
    if name is None:
        return {k: load_image(p, size) for k, p in files.items()}
    if name not in files:
        raise unknown(dataset[:-1] if dataset.endswith("s") else dataset, name, list(files))
    return load_image(files[name], size)


def style_image(name: str | None = None, size: int | None = None):
    """A public-domain painting (``starry_night``, ``the_scream``, ``shipwreck``,
    ``woman-with-hat-matisse``) as ``uint8 (H, W, 3)``; with ``name=None`` a dict of all."""
    return _image_set("styles", name, size)


def content_image(name: str = "tubingen", size: int | None = None):
    """A content photo (``tubingen``) as ``uint8 (H, W, 3)``."""
    return _image_set("content", name, size)


def load_cifar10(split: str = "test", per_class: int | None = None, progress: bool = True):
    """CIFAR-10 from its JPEG folders.

    Returns ``(images, labels, classes)``: ``uint8 (N, 32, 32, 3)``, ``int64 (N,)`` and the
    10 class names. ``per_class`` keeps the first that many images of each class (in file
    order), so subsets are the same on every machine.
    """
    if split not in ("train", "test"):
        raise CourseError(f"split must be 'train' or 'test', got {split!r}")
    root = find("cifar10") / split
    files, labels = [], []
    for c, name in enumerate(CIFAR10_CLASSES):
        fs = sorted((root / name).glob("*.jpg"))[:per_class]
        files += fs
        labels += [c] * len(fs)
    from tqdm.auto import tqdm
    images = np.empty((len(files), 32, 32, 3), np.uint8)
    for i, f in enumerate(tqdm(files, desc=f"CIFAR-10 {split}", disable=not progress, leave=False)):
        images[i] = np.asarray(read_image(f))
    return images, np.asarray(labels, np.int64), list(CIFAR10_CLASSES)


# ----------------------------------------------------------------------------- download
def _fetch(url: str, dest: Path, size: int | None = None, md5: str | None = None) -> Path:
    """Download ``url`` to ``dest`` with pooch (scikit-image's and SciPy's data fetcher): a
    progress bar, two retries, the checksum checked, and the file at ``dest`` only when it is
    complete and verified (an interrupted download leaves nothing half-written behind)."""
    import logging

    import pooch
    pooch.get_logger().setLevel(logging.WARNING)
    dest = Path(dest)
    fetcher = pooch.create(path=dest.parent, base_url="", registry={dest.name: f"md5:{md5}" if md5 else None},
                           urls={dest.name: url}, retry_if_failed=2)
    try:
        path = Path(fetcher.fetch(dest.name, downloader=pooch.HTTPDownloader(progressbar=True, timeout=60)))
    except ValueError as e:               # pooch: the downloaded file's hash is not the known one
        raise CourseError(f"{url}: checksum mismatch ({e})") from None
    except Exception as e:  # noqa: BLE001 - requests' errors: no network, refused, 404, ...
        raise CourseError(f"could not download {url} ({e})") from None
    if size is not None and path.stat().st_size != size:
        got = path.stat().st_size
        path.unlink()
        raise CourseError(f"{url}: expected {size} bytes, got {got}")
    return path


def _save_jpeg(arr_or_im, path: Path, quality: int = 95):
    im = arr_or_im if isinstance(arr_or_im, Image.Image) else Image.fromarray(arr_or_im)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.convert("RGB").save(path, quality=quality)


def _build_cifar10(archive: Path, out: Path):
    import pickle
    with tarfile.open(archive) as tar:
        batches = {m.name.rsplit("/", 1)[-1]: m for m in tar.getmembers() if "_batch" in m.name}
        for split, names in [("train", [f"data_batch_{i}" for i in range(1, 6)]),
                             ("test", ["test_batch"])]:
            counts = [0] * 10
            for n in names:
                d = pickle.load(tar.extractfile(batches[n]), encoding="bytes")
                imgs = d[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
                for img, lab in zip(imgs, d[b"labels"]):
                    _save_jpeg(img, out / split / CIFAR10_CLASSES[lab] / f"{counts[lab]:04d}.jpg")
                    counts[lab] += 1


def _build_imagenet(archive: Path, out: Path):
    with zipfile.ZipFile(archive) as z:
        for info in sorted(z.infolist(), key=lambda i: i.filename):
            stem = Path(info.filename).stem
            if not info.filename.lower().endswith((".jpeg", ".jpg")) or not stem.startswith("n"):
                continue
            im = Image.open(io.BytesIO(z.read(info))).convert("RGB")
            s = 256 / min(im.size)
            im = im.resize((round(im.width * s), round(im.height * s)), Image.Resampling.LANCZOS)
            _save_jpeg(im, out / f"{stem}.jpg", quality=90)


def download(name: str, root: Path | None = None) -> Path:
    """Fetch data set ``name`` from its public source into ``root`` (default ``<project>/data``).

    Builds into a temporary folder beside the target and renames it into place at the
    end, so an interrupted run leaves no half-written data set. Returns the folder.
    """
    if name not in SOURCES:
        raise unknown("data set", name, DATASETS)
    root = Path(root) if root else project_root() / "data"
    target = root / name
    if (root / _MARKERS[name]).exists():
        print(f"{name}: already present in {target}")
        return target
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    src = SOURCES[name]
    try:
        _download_into(name, src, root, target)
    except CourseError as e:
        if created and not any(root.iterdir()):
            root.rmdir()
        raise CourseError(f"{name}: {e}. Nothing was written. Without the internet, copy the data set "
                          f"from another machine into {root} as {LAYOUT[name]}, or set {DATA_ENV} to a "
                          "folder that holds it") from None
    print(f"{name}: ready in {target}")
    return target


def _download_into(name: str, src: dict, root: Path, target: Path) -> None:
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{name}-") as tmp:
        tmp = Path(tmp)
        build = tmp / name
        if name == "cifar10":
            _build_cifar10(_fetch(src["url"], tmp / "cifar.tar.gz", src["size"], src["md5"]), build)
        elif name == "imagenet-samples":
            _build_imagenet(_fetch(src["url"], tmp / "samples.zip"), build)
            if len(list(build.glob("*.jpg"))) != 1000:
                raise CourseError("the ImageNet sample archive did not hold 1000 class images")
        else:
            for f in src["files"]:
                im = read_image(_fetch(src["base"] + f, tmp / f))
                im.thumbnail((512, 512), Image.Resampling.LANCZOS)
                _save_jpeg(im, build / f)
        if target.exists():
            shutil.rmtree(target)
        os.replace(build, target)


def status() -> dict[str, str]:
    """Where each data set was found, or the command that fetches it."""
    out = {}
    for n in DATASETS:
        try:
            out[n] = str(find(n))
        except CourseError:
            out[n] = "missing: " + DOWNLOAD_HINT.format(name=n)
    return out


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd = argv.pop(0) if argv else "status"
    if cmd == "status":
        for k, v in status().items():
            print(f"{k:18s} {v}")
    elif cmd == "download":
        failed = 0
        for n in argv or DATASETS:
            try:
                try:
                    print(f"{n}: found in {find(n)}")
                except CourseError:
                    download(n)
            except CourseError as e:
                print(f"error: {e}", file=sys.stderr)
                failed += 1
        return 1 if failed else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
