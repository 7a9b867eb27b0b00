# cython: language_level=3
# (boundscheck, wraparound, initializedcheck and cdivision come from setup.py.)
"""Pooling kernels (OpenMP). Placeholder: the fast kernels land with issue 3."""


def max_pool2d_forward(x, y, indices, int KH, int KW, int SH, int SW, int PH, int PW,
                       int n_threads):
    raise NotImplementedError


def max_pool2d_backward(grad_out, indices, grad_x, int n_threads):
    raise NotImplementedError


def avg_pool2d_forward(x, y, int KH, int KW, int SH, int SW, int PH, int PW,
                       bint count_include_pad, int n_threads):
    raise NotImplementedError


def avg_pool2d_backward(grad_out, grad_x, int KH, int KW, int SH, int SW, int PH, int PW,
                        bint count_include_pad, int n_threads):
    raise NotImplementedError
