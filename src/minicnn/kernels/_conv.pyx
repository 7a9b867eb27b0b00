# cython: language_level=3
# (boundscheck, wraparound, initializedcheck and cdivision come from setup.py.)
"""Convolution kernels (OpenMP). Placeholder: the fast kernels land with issue 3."""


def conv2d_forward(x, w, y, int SH, int SW, int PH, int PW, int DH, int DW, int G,
                   int n_threads):
    raise NotImplementedError("fast conv2d_forward is not written yet")


def conv2d_backward_input(grad_out, w, grad_x, int SH, int SW, int PH, int PW, int DH, int DW,
                          int G, int n_threads):
    raise NotImplementedError("fast conv2d_backward_input is not written yet")


def conv2d_backward_weight(x, grad_out, grad_w, int SH, int SW, int PH, int PW, int DH, int DW,
                           int G, int n_threads):
    raise NotImplementedError("fast conv2d_backward_weight is not written yet")
