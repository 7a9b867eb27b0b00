"""ImageFolder and DatasetFolder, shaped like torchvision's: one folder of files per class."""
import os
import warnings

from minicnn.datasets.vision import VisionDataset
from minicnn.serialization import check_regular_file

__all__ = ["DatasetFolder", "ImageFolder", "IMG_EXTENSIONS", "default_loader", "pil_loader",
           "find_classes", "make_dataset", "has_file_allowed_extension", "is_image_file"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

PILLOW_HINT = "pip install pillow"


def has_file_allowed_extension(filename, extensions):
    """Whether ``filename`` ends (case-insensitively) with one of ``extensions``."""
    return filename.lower().endswith(extensions if isinstance(extensions, str)
                                     else tuple(extensions))


def is_image_file(filename):
    """Whether ``filename`` has one of ``IMG_EXTENSIONS``."""
    return has_file_allowed_extension(filename, IMG_EXTENSIONS)


def find_classes(directory):
    """The class folders of ``directory``, sorted, and ``{name: index}``.

    >>> find_classes("/nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    FileNotFoundError: ...
    """
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {name: i for i, name in enumerate(classes)}


def _walk(top):
    """``(folder, file names)`` for ``top`` and every folder below it, symbolic links to folders
    followed as torchvision follows them, but each real folder visited once: a link back up the
    tree would otherwise make the walk endless."""
    seen = set()
    for root, dirs, files in os.walk(top, followlinks=True):
        st = os.stat(root)
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        yield root, files


def make_dataset(directory, class_to_idx=None, extensions=None, is_valid_file=None,
                 allow_empty=False):
    """Every ``(path, class index)`` under ``directory/<class>/``, as torchvision lists them.

    Files are taken when their name ends with one of ``extensions`` or when
    ``is_valid_file(path)`` is true (exactly one of the two must be given); folders and files
    are visited in sorted order. A class with no file raises ``FileNotFoundError`` unless
    ``allow_empty``.
    """
    directory = os.path.expanduser(directory)
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    elif not class_to_idx:
        raise ValueError("'class_to_index' must have at least one entry to collect any samples.")
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("Both extensions and is_valid_file cannot be None or not None at the "
                         "same time")
    if extensions is not None:
        def is_valid_file(path):
            return has_file_allowed_extension(path, extensions)
    instances, available = [], set()
    for target_class in sorted(class_to_idx):
        class_index = class_to_idx[target_class]
        target_dir = os.path.join(directory, target_class)
        if not os.path.isdir(target_dir):
            continue
        for root, fnames in sorted(_walk(target_dir)):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if is_valid_file(path):
                    instances.append((path, class_index))
                    available.add(target_class)
    empty = set(class_to_idx) - available
    if empty and not allow_empty:
        msg = f"Found no valid file for the classes {', '.join(sorted(empty))}. "
        if extensions is not None:
            msg += (f"Supported extensions are: "
                    f"{extensions if isinstance(extensions, str) else ', '.join(extensions)}")
        raise FileNotFoundError(msg)
    return instances


def _pillow(what):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"{what} needs Pillow to read image files: {PILLOW_HINT} (or pass "
                          f"loader= a function of your own)") from None
    return Image


def pil_loader(path):
    """Open an image file with Pillow and convert it to RGB, as torchvision's ``pil_loader``.

    The file must be a regular file, and its size in pixels (read from its header before any
    pixel is decoded) at most Pillow's ``Image.MAX_IMAGE_PIXELS``: a small file that claims a
    huge image is refused instead of decoded. Raises ``ImportError`` naming
    ``pip install pillow`` when Pillow is missing.
    """
    Image = _pillow("ImageFolder's default loader")
    check_regular_file(path)
    with open(path, "rb") as f:
        with warnings.catch_warnings():  # Pillow's bomb warning: refused just below instead
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                img = Image.open(f)
            except Image.DecompressionBombError as exc:
                raise ValueError(f"{path}: {exc}") from None
            except OSError as exc:  # not an image Pillow knows, or a broken header
                raise OSError(f"{path}: cannot read the image: {exc}") from None
        limit = Image.MAX_IMAGE_PIXELS
        width, height = img.size
        if limit is not None and width * height > limit:
            raise ValueError(f"{path}: image of {width}x{height} pixels, more than Pillow's "
                             f"Image.MAX_IMAGE_PIXELS = {limit}; raise that limit if the file "
                             f"is trusted")
        try:
            return img.convert("RGB")
        except OSError as exc:  # Pillow's "image file is truncated" does not name the file
            raise OSError(f"{path}: cannot decode the image: {exc}") from None


def default_loader(path):
    """torchvision's default loader: ``pil_loader`` (Pillow; there is no accimage here)."""
    return pil_loader(path)


class DatasetFolder(VisionDataset):
    """Samples stored as ``root/<class>/.../<file>``, read by ``loader`` (torchvision's).

    Parameters
    ----------
    root : str or Path
        The folder holding one folder per class; classes are the sorted folder names, indices
        0, 1, ... in that order. Files in sub-folders of a class folder belong to that class.
    loader : callable
        ``loader(path)`` returns the sample.
    extensions : tuple of str, optional
        File name endings to take (case-insensitive); give this or ``is_valid_file``.
    transform, target_transform : callable, optional
        Applied to the sample and to the class index.
    is_valid_file : callable, optional
        ``is_valid_file(path)`` says whether to take a file.
    allow_empty : bool, default False
        Whether a class folder with no valid file is allowed (else ``FileNotFoundError``).

    Attributes
    ----------
    classes : list of str
    class_to_idx : dict of str to int
    samples : list of (path, class index)
    targets : list of int
    """

    class_to_idx = None  # set per instance (VisionDataset computes it from ``classes``)

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None,
                 is_valid_file=None, allow_empty=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        classes, class_to_idx = self.find_classes(self.root)
        samples = self.make_dataset(self.root, class_to_idx=class_to_idx, extensions=extensions,
                                    is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.classes = classes
        self.class_to_idx = class_to_idx
        self.samples = samples
        self.targets = [s[1] for s in samples]

    @staticmethod
    def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None,
                     allow_empty=False):
        """The module's ``make_dataset``; override to list samples another way."""
        if class_to_idx is None:
            raise ValueError("The class_to_idx parameter cannot be None.")
        return make_dataset(directory, class_to_idx, extensions=extensions,
                            is_valid_file=is_valid_file, allow_empty=allow_empty)

    def find_classes(self, directory):
        """The module's ``find_classes``; override for another folder structure."""
        return find_classes(directory)

    def __getitem__(self, index):
        path, target = self.samples[index]
        return self._apply(self.loader(path), target)

    def __len__(self):
        return len(self.samples)


class ImageFolder(DatasetFolder):
    """Images stored as ``root/<class>/.../<image>`` (torchvision's ``ImageFolder``).

    ``DatasetFolder`` with ``IMG_EXTENSIONS`` (unless ``is_valid_file`` is given) and, by
    default, ``default_loader``: each image opened with Pillow and converted to RGB, returned as
    the PIL image (minicnn's transforms take it as it is). Without Pillow the default loader
    raises ``ImportError`` naming ``pip install pillow``; pass ``loader=`` to read files your
    own way. ``imgs`` is ``samples``.
    """

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader,
                 is_valid_file=None, allow_empty=False):
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None,
                         transform=transform, target_transform=target_transform,
                         is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.imgs = self.samples
