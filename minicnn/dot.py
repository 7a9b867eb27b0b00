"""The autograd graph of a tensor as Graphviz DOT text (and a picture, when graphviz is there).

``to_dot(loss)`` walks the recorded graph from ``loss`` back to the leaves, as ``backward``
would, and writes one node per tensor the user made (inputs, parameters) and one per recorded
op, each labelled with the shape and dtype of what it produced. Call it before ``backward``
(which frees the graph) or after ``backward(retain_graph=True)``.

>>> import minicnn
>>> x = minicnn.tensor([1.0, 2.0], requires_grad=True)
>>> print(minicnn.dot.to_dot((x * x).sum(), {"x": x}).splitlines()[0])
digraph autograd {
"""
__all__ = ["to_dot", "render"]


def _describe(t):
    return f"{tuple(t.shape)} {getattr(t.dtype, 'name', t.dtype)}"


def to_dot(root, params=None):
    """DOT text of the graph that produced ``root``.

    Parameters
    ----------
    root : Tensor
        Usually a loss; its graph must not have been freed by a backward pass yet.
    params : dict or iterable of (name, tensor), optional
        Names for the leaves (e.g. ``dict(model.named_parameters())``); others are "input".
    """
    names = {id(t): name for name, t in (dict(params) if params is not None else {}).items()}
    lines = ["digraph autograd {", "  rankdir=BT;",
             '  node [fontname="Helvetica", fontsize=10, shape=box, style=filled];']
    seen, stack = set(), [root]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        ctx = t._ctx
        if ctx is None:  # a leaf: a tensor the user made
            name = names.get(id(t), "input")
            color = "lightblue" if t.requires_grad else "lightgrey"
            lines.append(f'  t{id(t)} [label="{name}\\n{_describe(t)}", fillcolor={color}];')
            continue
        if ctx._freed:
            raise RuntimeError(f"the graph through {ctx.name()} was freed by a backward pass; "
                               f"draw it before backward, or pass retain_graph=True")
        color = "darkolivegreen1" if t is root else "white"
        lines.append(f'  t{id(t)} [label="{ctx.name()}\\n{_describe(t)}", fillcolor={color}, '
                     f'shape=ellipse];')
        for p in ctx._parents:
            if getattr(p, "requires_grad", False) or getattr(p, "_ctx", None) is not None:
                lines.append(f"  t{id(p)} -> t{id(t)};")
                stack.append(p)
            elif hasattr(p, "_ctx"):  # a constant tensor (no gradient flows into it)
                lines.append(f'  t{id(p)} [label="constant\\n{_describe(p)}", '
                             f'fillcolor=lightgrey];')
                lines.append(f"  t{id(p)} -> t{id(t)} [style=dashed];")
    lines.append("}")
    return "\n".join(lines)


def render(root, path, params=None, format="png"):
    """Draw ``to_dot(root, params)`` into ``path`` (+ ``.png``) with the optional ``graphviz``
    package (``pip install graphviz``, and the Graphviz program on your PATH)."""
    try:
        import graphviz
    except ImportError:
        raise ImportError("render needs the graphviz package: pip install graphviz (and "
                          "Graphviz itself); to_dot() gives the DOT text without it") from None
    return graphviz.Source(to_dot(root, params)).render(str(path), format=format, cleanup=True)
