"""The one random generator behind init, dropout and shuffling.

Named ``rng``, not ``random``: a module named ``random`` inside the package would shadow the
standard library's for a Python started in this folder.
"""
import numpy as np

_rng = np.random.default_rng()


def manual_seed(seed):
    """Seed minicnn's generator: same seed, same initial weights, dropout masks and batch order.

    Returns the new ``numpy.random.Generator``.
    """
    global _rng
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    _rng = np.random.default_rng(int(seed))
    return _rng


def numpy_generator(generator, name="generator"):
    """The ``numpy.random.Generator`` a sampler, split or transform draws from.

    ``None`` means minicnn's one generator (``minicnn.manual_seed`` seeds it), looked up at the
    moment of drawing so a later ``manual_seed`` takes effect. A ``numpy.random.Generator`` is
    used as given; so is the ``.rng`` of an object that carries one (a Generator-like wrapper).
    """
    if generator is None:
        return get_rng()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(getattr(generator, "rng", None), np.random.Generator):
        return generator.rng
    raise TypeError(f"{name} must be None or a numpy.random.Generator, got "
                    f"{type(generator).__name__}")


def get_rng():
    """The ``numpy.random.Generator`` minicnn draws from (use it, don't keep it across seeds)."""
    return _rng


def get_rng_state():
    """A JSON-friendly snapshot of the generator (for checkpoints)."""
    return _rng.bit_generator.state


def set_rng_state(state):
    """Restore a snapshot taken by ``get_rng_state``."""
    _rng.bit_generator.state = state


class Generator:
    """A generator of its own, as ``torch.Generator``: pass it as ``generator=`` (to
    ``random_split``, ``DataLoader``, ``RandomSampler``) to draw apart from minicnn's global one.

    ``minicnn.Generator().manual_seed(42)`` returns the seeded generator, as in PyTorch;
    ``.rng`` is the ``numpy.random.Generator`` it draws from.
    """

    def __init__(self, device="cpu"):
        from minicnn.dtypes import as_device
        as_device(device)
        self._seed = int(np.random.SeedSequence().entropy % 2 ** 63)
        self.rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed):
        """Seed this generator; returns it."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def initial_seed(self):
        """The seed this generator started from."""
        return self._seed

    def get_state(self):
        """A JSON-friendly snapshot of this generator."""
        return self.rng.bit_generator.state

    def set_state(self, state):
        """Restore a snapshot taken by ``get_state``; returns this generator."""
        self.rng.bit_generator.state = state
        return self
