"""The autograd graph of a tensor as Graphviz DOT text (and a picture, when graphviz is there).

``to_dot(loss)`` walks the recorded graph from ``loss`` back to the leaves, as ``backward``
would, and writes one node per tensor the user made (inputs, parameters) and one per recorded
op (the graph's nodes), each labelled with the shape and dtype of what it produced. Call it
before ``backward`` (which frees the graph) or after ``backward(retain_graph=True)``.

>>> import minicnn
>>> x = minicnn.tensor([1.0, 2.0], requires_grad=True)
>>> print(minicnn.autograd.to_dot((x * x).sum(), {"x": x}).splitlines()[0])
digraph autograd {
"""
__all__ = ["to_dot", "render"]


def _describe(shape, dtype):
    return f"{tuple(shape)} {getattr(dtype, 'name', dtype)}"


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
    start = root.grad_fn if root.grad_fn is not None else root._grad_node()
    if start is None:
        lines.append(f'  root [label="constant\\n{_describe(root.shape, root.dtype)}", '
                     f'fillcolor=lightgrey];')
    seen, stack = set(), [] if start is None else [start]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node._freed:
            raise RuntimeError(f"the graph through {node.name()} was freed by a backward pass; "
                               f"draw it before backward, or pass retain_graph=True")
        if node.name() == "AccumulateGrad":  # a leaf: a tensor the user made
            t = node.variable
            lines.append(f'  n{id(node)} [label="{names.get(id(t), "input")}\\n'
                         f'{_describe(t.shape, t.dtype)}", fillcolor=lightblue];')
            continue
        color = "darkolivegreen1" if node is start else "white"
        lines.append(f'  n{id(node)} [label="{node.name()}\\n{_describe(*node._output_meta)}", '
                     f'fillcolor={color}, shape=ellipse];')
        for i, (nxt, meta) in enumerate(zip(node._next, node._input_meta)):
            if nxt is not None:
                lines.append(f"  n{id(nxt)} -> n{id(node)};")
                stack.append(nxt)
            elif meta is not None:  # a constant tensor (no gradient flows into it)
                lines.append(f'  c{id(node)}_{i} [label="constant\\n{_describe(*meta)}", '
                             f'fillcolor=lightgrey];')
                lines.append(f"  c{id(node)}_{i} -> n{id(node)} [style=dashed];")
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
