"""Task sum_to: the backward of broadcasting.

Run its tests with ``python -m pytest -m task_sum_to``. docs/backprop.md, "Broadcasting: sum
over the broadcast axes".
"""
import numpy as np


def sum_to(grad, shape):
    """Reduce ``grad`` to ``shape`` by summing over the axes broadcasting created.

    If an array of shape ``shape`` was broadcast to ``grad.shape`` in the forward pass, this
    returns its gradient: sum over the leading axes broadcasting prepended, and over the axes
    where ``shape`` has size 1 but ``grad`` does not (keeping them, with size 1).

    Parameters
    ----------
    grad : ndarray
    shape : tuple of int
        Broadcastable to ``grad.shape``.

    Returns
    -------
    ndarray of shape ``shape``

    Examples
    --------
    ``sum_to(np.ones((2, 3, 4)), (3, 1))`` is ``np.full((3, 1), 8.0)``.
    """
    raise NotImplementedError("sum_to: your code here")
