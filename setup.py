"""Build minicnn's Cython kernels, with OpenMP when the compiler supports it.

Environment variables (read at build time):

MINICNN_NO_OPENMP=1   build serial kernels even if the compiler has OpenMP
MINICNN_DEBUG=1       turn Cython bounds/wraparound checks back on, compile with -O0 -g
MINICNN_NATIVE=1      add -march=native (faster here, but the wheel only runs on this CPU)
"""
import os
import shutil
import sys
import tempfile
import textwrap

import Cython
import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = ["_openmp", "_conv", "_pool"]

OMP_PROBE = textwrap.dedent("""
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return n > 0 ? 0 : 1;
    }
""")


def _flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _openmp_candidates(compiler_type):
    """(compile flags, link flags) to try in order: gcc/clang, Apple clang + libomp, MSVC."""
    if compiler_type == "msvc":
        return [(["/openmp"], [])]
    return [(["-fopenmp"], ["-fopenmp"]), (["-Xpreprocessor", "-fopenmp"], ["-lomp"])]


def _openmp_flags(compiler):
    """Compile and link a tiny omp.h program; the first flags that work, or None."""
    tmp = tempfile.mkdtemp(prefix="minicnn-omp-probe-")
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(OMP_PROBE)
        for cflags, ldflags in _openmp_candidates(compiler.compiler_type):
            try:
                objects = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
                compiler.link_executable(objects, "probe", output_dir=tmp, extra_postargs=ldflags)
                return cflags, ldflags
            except Exception:
                continue
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildKernels(build_ext):
    """build_ext that decides OpenMP and optimisation flags for the actual compiler."""

    def build_extensions(self):
        msvc = self.compiler.compiler_type == "msvc"
        if _flag("MINICNN_DEBUG"):
            cflags = ["/Od", "/Zi"] if msvc else ["-O0", "-g"]
        else:
            cflags = ["/O2"] if msvc else ["-O3"]
        if _flag("MINICNN_NATIVE") and not msvc:
            cflags.append("-march=native")
        ldflags = []

        if _flag("MINICNN_NO_OPENMP"):
            print("minicnn: MINICNN_NO_OPENMP is set, building serial kernels")
        elif (omp := _openmp_flags(self.compiler)) is not None:
            cflags += omp[0]
            ldflags += omp[1]
        else:
            print("WARNING: minicnn: the compiler does not support OpenMP; building serial "
                  "kernels (they run on one thread). See docs/building.md.", file=sys.stderr)

        # The flags and Cython's version are baked into _openmp so `python -m minicnn info` can report them.
        macros = [("MINICNN_CFLAGS", '"' + " ".join(cflags + ldflags) + '"'),
                  ("MINICNN_CYTHON_VERSION", '"' + Cython.__version__ + '"')]
        for ext in self.extensions:
            ext.extra_compile_args = list(ext.extra_compile_args) + cflags
            ext.extra_link_args = list(ext.extra_link_args) + ldflags
            ext.define_macros = list(ext.define_macros) + macros
        super().build_extensions()


def extensions():
    debug = _flag("MINICNN_DEBUG")
    exts = [
        Extension(
            f"minicnn.kernels.{name}",
            [f"src/minicnn/kernels/{name}.pyx"],
            include_dirs=[numpy.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        )
        for name in KERNELS
    ]
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": debug,
        "initializedcheck": debug,
        "cdivision": not debug,
    }
    return cythonize(exts, compiler_directives=directives)


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildKernels})
