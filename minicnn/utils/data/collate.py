"""default_collate: turn a list of samples into one batch, with PyTorch's rules.

Each field of the samples is batched along a new first axis, keeping the structure: a list of
``(image, label)`` tuples becomes ``[images, labels]``, a list of dicts one dict of batches.
"""
import collections.abc
import numbers

import numpy as np

from minicnn._tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_MESSAGE = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
            "lists; found {}")


def array_to_tensor(array):
    """A stacked ndarray as a Tensor of the same dtype (as ``torch.as_tensor``)."""
    if array.dtype.kind not in "biuf":
        raise TypeError(_MESSAGE.format(f"an array of dtype {array.dtype}"))
    return Tensor(np.ascontiguousarray(array), dtype=array.dtype)


def default_collate(batch):
    """Batch a list of samples the way ``torch.utils.data.default_collate`` does.

    ==========================  ==================================================
    each sample (or field) is   the batch is
    ==========================  ==================================================
    Tensor / ndarray (shape S)  Tensor ``(B, *S)``, same dtype (uint8 stays uint8)
    NumPy scalar                Tensor ``(B,)`` of its dtype
    Python int / float / bool   Tensor ``(B,)`` int64 / float64 / bool
    str or bytes                the list itself
    dict                        dict: each key collated
    tuple or list               list: each position collated (a namedtuple stays one)
    ==========================  ==================================================

    Examples
    --------
    >>> import numpy as np
    >>> images, labels = default_collate([(np.zeros((1, 2, 2), np.float32), 3),
    ...                                   (np.ones((1, 2, 2), np.float32), 5)])
    >>> tuple(images.shape), images.dtype, labels.tolist()
    ((2, 1, 2, 2), minicnn.float32, [3, 5])
    """
    if not isinstance(batch, collections.abc.Sequence) or not len(batch):
        raise TypeError("default_collate needs a non-empty list of samples")
    elem = batch[0]
    if isinstance(elem, Tensor):
        shapes = {tuple(t.shape) for t in batch}
        if len(shapes) > 1:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{sorted(shapes)} in the batch")
        return array_to_tensor(np.stack([t._data for t in batch]))
    if isinstance(elem, np.ndarray):
        shapes = {a.shape for a in batch}
        if len(shapes) > 1:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{sorted(shapes)} in the batch")
        return array_to_tensor(np.stack(batch))
    if isinstance(elem, np.generic):
        return array_to_tensor(np.array(batch))
    if isinstance(elem, (bool, np.bool_)):
        return Tensor(np.array(batch, dtype=bool), dtype=np.bool_)
    if isinstance(elem, numbers.Integral):
        return Tensor(np.array(batch, dtype=np.int64), dtype=np.int64)
    if isinstance(elem, numbers.Real):
        return Tensor(np.array(batch, dtype=np.float64), dtype=np.float64)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(s) != size for s in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(_MESSAGE.format(type(elem)))


def default_convert(data):
    """What a loader with ``batch_size=None`` yields: arrays and NumPy scalars become Tensors,
    containers are converted element by element, anything else is passed through."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return array_to_tensor(data)
    if isinstance(data, np.generic) and np.asarray(data).dtype.kind in "biuf":
        return array_to_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return [default_convert(d) for d in data]
    return data
