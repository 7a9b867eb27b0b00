"""Build minicnn's Cython kernels, with OpenMP when the compiler supports it.

Environment variables (read at build time):

MINICNN_NO_OPENMP=1   build serial kernels even if the compiler has OpenMP
MINICNN_DEBUG=1       turn Cython bounds/wraparound checks back on, compile with -O0 -g
MINICNN_NATIVE=1      add -march=native (faster here, but the wheel only runs on this CPU)

Switching between these in one tree (e.g. `MINICNN_DEBUG=1 python setup.py build_ext --inplace`
after a release build) rebuilds everything: Cython writes each mode's C into its own directory
(build/cython-release, build/cython-debug) and build_ext is forced when the settings differ from
those recorded by the previous build (build/minicnn-settings-lib.*.txt). Without that, timestamps
alone would keep the old C and the old .so.

Each compiled kernel is also kept in build/kernel-cache/, under a hash of everything that makes
it (its C source, the compiler command, the flags, Python's version and ABI). pip builds every
install in a fresh temporary directory, so without the cache the README's second command
(`pip install -e ".[test]"` after `pip install -e .`) would compile the same kernels again; with
it, a second install into a checkout copies them (MINICNN_NO_CACHE=1 compiles regardless).
"""
import glob
import hashlib
import os
import shutil
import sys
import sysconfig
import tempfile
import textwrap

import Cython
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = ["_openmp", "_conv", "_pool", "_elementwise", "_norm"]

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


NO_COMPILER = """minicnn: cannot compile its kernels: {why}
minicnn's convolution kernels are C (from Cython) and need a C compiler and Python's headers:
  Debian/Ubuntu: sudo apt-get install build-essential python3-dev
  Fedora:        sudo dnf install gcc python3-devel
  macOS:         xcode-select --install   (and brew install libomp for OpenMP)
  Windows:       the Microsoft C++ Build Tools
then install again. See docs/building.md."""


def _check_compiler(compiler, include_dirs):
    """Compile a one-line C file that includes Python.h; a clear SystemExit if that fails."""
    tmp = tempfile.mkdtemp(prefix="minicnn-cc-probe-")
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write("#include <Python.h>\nint minicnn_probe(void) { return 0; }\n")
        try:
            compiler.compile([src], output_dir=tmp, include_dirs=include_dirs)
        except Exception as exc:  # CompileError, or the compiler executable missing
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SystemExit(NO_COMPILER.format(why=first)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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


CACHE_DIR = os.path.join("build", "kernel-cache")


def _cache_key(compiler, ext):
    """A hash of what goes into one compiled kernel: a change to any of it compiles afresh."""
    h = hashlib.sha256()
    for part in (sys.version, sysconfig.get_config_var("EXT_SUFFIX") or "", sys.platform,
                 repr(getattr(compiler, "compiler_so", compiler.compiler_type)),
                 repr(ext.extra_compile_args), repr(ext.extra_link_args),
                 repr(ext.define_macros)):
        h.update(part.encode() + b"\0")
    for source in list(ext.sources) + list(ext.depends):
        with open(source, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:32]


def _settings():
    """The build settings that change the compiled kernels, as one line."""
    return " ".join(f"{name}={int(_flag(name))}"
                    for name in ("MINICNN_DEBUG", "MINICNN_NO_OPENMP", "MINICNN_NATIVE"))


class BuildKernels(build_ext):
    """build_ext that decides OpenMP and optimisation flags for the actual compiler."""

    def _settings_file(self):
        # Beside build_lib, not in it (a wheel packs all of build_lib); --inplace builds there
        # too and then copies the .so files into minicnn/kernels/.
        lib = os.path.normpath(self.build_lib)
        return os.path.join(os.path.dirname(lib), f"minicnn-settings-{os.path.basename(lib)}.txt")

    def build_extensions(self):
        # build_ext skips an extension whose .so is newer than its C: after a change of
        # settings that would keep the old kernels (and compile_flags() would not say so).
        stamp = self._settings_file()
        try:
            with open(stamp) as f:
                previous = f.read().strip()
        except OSError:
            previous = None
        if previous != _settings():
            if previous is not None:
                print(f"minicnn: build settings changed ({previous} -> {_settings()}), "
                      "rebuilding all kernels")
            self.force = True
        # A missing compiler (or Python.h) is said once and plainly, before the OpenMP probe
        # (which would otherwise report it as "no OpenMP").
        _check_compiler(self.compiler, self.include_dirs)
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
        macros = [("MINICNN_CFLAGS", '"' + " ".join(dict.fromkeys(cflags + ldflags)) + '"'),
                  ("MINICNN_CYTHON_VERSION", '"' + Cython.__version__ + '"')]
        for ext in self.extensions:
            ext.extra_compile_args = list(ext.extra_compile_args) + cflags
            ext.extra_link_args = list(ext.extra_link_args) + ldflags
            ext.define_macros = list(ext.define_macros) + macros
        super().build_extensions()
        os.makedirs(os.path.dirname(stamp), exist_ok=True)
        with open(stamp, "w") as f:
            f.write(_settings() + "\n")

    def build_extension(self, ext):
        target = self.get_ext_fullpath(ext.name)
        if _flag("MINICNN_NO_CACHE"):
            return super().build_extension(ext)
        cached = os.path.join(CACHE_DIR, f"{ext.name}-{_cache_key(self.compiler, ext)}"
                              f"{os.path.splitext(target)[1]}")
        if os.path.isfile(cached):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(cached, target)
            shutil.copymode(cached, target)
            # Stamped now, not with the cache file's time: an in-place build copies build/lib's
            # file over minicnn/kernels/'s only when it is the newer of the two.
            os.utime(target)
            print(f"minicnn: {ext.name} unchanged since it was last compiled here, "
                  f"copied from {CACHE_DIR}")
            return
        super().build_extension(ext)
        os.makedirs(CACHE_DIR, exist_ok=True)
        part = f"{cached}.{os.getpid()}.part"  # copied whole, then renamed: never half a file
        shutil.copy2(target, part)
        os.replace(part, cached)
        # Keep the newest few builds of each kernel (editing a .pyx would otherwise pile them up).
        mine = sorted((f for f in os.listdir(CACHE_DIR)
                       if f.startswith(ext.name + "-") and not f.endswith(".part")),
                      key=lambda f: os.path.getmtime(os.path.join(CACHE_DIR, f)))
        for old in mine[:-4]:
            os.remove(os.path.join(CACHE_DIR, old))


def extensions():
    debug = _flag("MINICNN_DEBUG")
    # No numpy include_dirs: no kernel cimports numpy (they use typed memoryviews). The C the
    # kernels include (`cdef extern from "src/....h"`) is found through minicnn/kernels, since
    # Cython writes its C elsewhere (build/cython-*). Every header, .pxd and .pxi is in
    # `depends`: the compile cache hashes them with the generated C, which only #includes the
    # headers.
    kernels = "minicnn/kernels"
    depends = sorted(glob.glob(f"{kernels}/src/*.h") + glob.glob(f"{kernels}/*.pxd")
                     + glob.glob(f"{kernels}/*.pxi"))
    exts = [Extension(f"minicnn.kernels.{name}", [f"{kernels}/{name}.pyx"],
                      include_dirs=[kernels], depends=depends)
            for name in KERNELS]
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": debug,
        "initializedcheck": debug,
        "cdivision": not debug,
    }
    # The directives are not in cythonize's timestamp check: each mode keeps its own C files,
    # so a debug build never compiles the release C (no bounds checks) or the other way round.
    build_dir = os.path.join("build", "cython-debug" if debug else "cython-release")
    return cythonize(exts, compiler_directives=directives, build_dir=build_dir)


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildKernels})
