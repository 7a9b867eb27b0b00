"""``python -m minicnn info``: versions, OpenMP, threads, BLAS and build flags, one per line."""
import os
import platform

__all__ = ["add_arguments", "main"]


def add_arguments(parser):
    """``info`` takes no options."""


def main(args):
    """Print the facts a bug report needs; returns 0."""
    import numpy
    import scipy
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS so threadpoolctl can see it)

    from minicnn import __version__, kernels

    rows = [
        ("minicnn", __version__),
        ("Python", platform.python_version()),
        ("numpy", numpy.__version__),
        ("scipy", scipy.__version__),
        ("Cython", f"{kernels._openmp.cython_version()} (built with)"),
        ("OpenMP", "on" if kernels.openmp_enabled() else "off (serial build)"),
        ("threads", str(kernels.get_num_threads())),
        ("OpenMP waiting", f"GOMP_SPINCOUNT={kernels.OPENMP_SPINCOUNT} (set by minicnn)"
         if kernels.OPENMP_SPINCOUNT else
         f"GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT', '(default)')}, "
         f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(default)')} (yours)"),
        ("backend", kernels.get_backend()),
        ("compile flags", kernels.compile_flags() or "(none recorded)"),
    ]
    try:
        from threadpoolctl import threadpool_info
        for lib in threadpool_info():
            if lib.get("user_api") == "blas":
                owner = ("scipy" if "scipy" in lib["filepath"].split("/")[-2] else
                         "numpy" if "numpy" in lib["filepath"] else lib["filepath"])
                rows.append((f"BLAS ({owner})", f"{lib['internal_api']} {lib['version']}, "
                             f"{lib['num_threads']} threads, {lib.get('architecture', '?')}"))
    except ImportError:
        rows.append(("BLAS", "unknown (threadpoolctl not installed)"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0
