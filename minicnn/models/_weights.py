"""The ``weights=`` argument of the torchvision-shaped models: a local .safetensors file or None."""
import os

__all__ = ["load_weights"]

_HOW_TO_CONVERT = (
    "minicnn downloads nothing: pass weights=None (random initialisation) or the path of a "
    ".safetensors file holding the model's state_dict. To convert torchvision's pretrained "
    "weights, run once where torchvision is installed:\n"
    "    import torchvision, safetensors.torch\n"
    "    m = torchvision.models.resnet18(weights='DEFAULT')  # or another model\n"
    "    safetensors.torch.save_file(m.state_dict(), 'resnet18.safetensors')\n"
    "then build the model with weights='resnet18.safetensors'.")


def load_weights(model, weights):
    """Load ``weights`` (None, or a path ending in ``.safetensors``) into ``model``, strictly.

    Parameters
    ----------
    model : nn.Module
    weights : None or str or os.PathLike
        None leaves the model as initialised.

    Returns
    -------
    nn.Module
        ``model``.

    Raises
    ------
    ValueError
        If ``weights`` is anything else (a torchvision enum, ``'DEFAULT'``, a URL): the message
        says how to convert torchvision's weights to a file minicnn reads.
    FileNotFoundError, KeyError, RuntimeError
        From ``minicnn.load`` and ``load_state_dict(strict=True)``: a missing file, or one
        whose names or shapes do not match the model.
    """
    if weights is None:
        return model
    if not isinstance(weights, (str, os.PathLike)) or \
            not os.fspath(weights).endswith(".safetensors"):
        raise ValueError(f"weights={weights!r} is not supported. {_HOW_TO_CONVERT}")
    from minicnn.serialization import load
    model.load_state_dict(load(weights), strict=True)
    return model
