"""The tasks, in the order of the track, with their checks (see exercises/README.md)."""
from exercises import _checks as K
from exercises import _checks_engine as E

# task -> (one line on what you write, its checks)
TASKS = {
    "value": ("a scalar Value with + * ** exp log relu, and backward()",
              [E.check_value_forward, E.check_value_gradients, E.check_value_reuse_and_order]),
    "sum_to": ("sum_to, the backward of broadcasting",
               [K.check_sum_to_cases, K.check_sum_to_is_broadcasting_backward]),
    "function": ("a Tensor Function with ctx.save_for_backward (uses your sum_to)",
                 [E.check_function_context, E.check_function_gradients]),
    "softmax_ce": ("log-softmax, cross-entropy and its gradient",
                   [K.check_softmax_ce_loss, K.check_softmax_ce_stable,
                    K.check_softmax_ce_backward]),
    "linear": ("Linear forward and backward, trained on two blobs (uses your softmax_ce)",
               [E.check_linear_forward_backward, E.check_linear_trains_on_blobs]),
    "conv_loop": ("conv2d forward as a loop over kernel taps",
                  [K.check_conv_loop_vs_scipy, K.check_conv_loop_geometries,
                   K.check_conv_loop_groups]),
    "im2col": ("im2col: one sample's windows as columns",
               [K.check_im2col_worked_example, K.check_im2col_times_weights_is_conv]),
    "col2im": ("col2im and the conv input gradient",
               [K.check_col2im_counts_windows, K.check_col2im_backward_input,
                K.check_col2im_vs_finite_differences]),
    "maxpool": ("max-pool forward (ties, NaN) and its gradient routing",
                [K.check_maxpool_forward, K.check_maxpool_ties_and_nan,
                 K.check_maxpool_backward]),
    "batchnorm": ("BatchNorm forward and backward by hand",
                  [K.check_batchnorm_forward, K.check_batchnorm_backward]),
    "sobel": ("learn a Sobel kernel by gradient descent",
              [K.check_sobel_learned]),
    "train_digits": ("train a CNN on the digits with your kernels, compared with minicnn's",
                     [E.check_train_digits_with_your_kernels]),
}


def status(task, solution=False):
    """``(state, detail)`` of a task: state is "not started" (something still raises
    NotImplementedError), "failing" (detail: the first failure, with its likely cause when one
    is known) or "passing"."""
    try:
        module = K.load(task, solution)
        for check in TASKS[task][1]:
            check(module)
    except NotImplementedError as exc:
        return "not started", str(exc)
    except AssertionError as exc:
        return "failing", _summary(exc)
    except Exception as exc:                    # your code raised: that is a failure too
        return "failing", f"{type(exc).__name__}: {exc}"
    return "passing", ""


def _summary(exc):
    """The failure in one line: what disagreed (and by how much), then the likely cause."""
    noise = ("Not equal to tolerance", "Arrays are not equal", "Mismatched elements", "ACTUAL",
             "DESIRED", "x:", "y:", "likely cause", "Max relative difference")
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    what = [line for line in lines if not line.startswith(noise)]
    by = [line for line in lines if line.startswith("Max absolute difference")]
    text = what[0] if what else (lines[0] if lines else "a check failed")
    if by and by[0] != text:
        text += f" ({by[0][0].lower()}{by[0][1:]})"
    hint = getattr(exc, "hint", None)
    return f"{text}; likely cause: {hint}" if hint else text
