"""LBFGS: limited-memory BFGS with an optional strong-Wolfe line search, ported from PyTorch's
``torch/optim/lbfgs.py`` (itself from Lua torch's ``lbfgs.lua``/``lswolfe.lua``) onto arrays."""
import numpy as np

from minicnn._checks import check_int, check_nonnegative, check_real
from minicnn.optim.optimizer import Optimizer

__all__ = ["LBFGS"]


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1, slope g1) and (x2, f2, slope g2), clamped to
    ``bounds`` (default the interval); the midpoint when the cubic has no minimum.

    d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2);  d2 = sqrt(d1**2 - g1 g2)
    min_pos = x2 - (x2 - x1) (g2 + d2 - d1) / (g2 - g1 + 2 d2)
    """
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """Find a step ``t`` along ``d`` satisfying the strong Wolfe conditions
    (``f(t) <= f + c1 t gtd`` and ``|g(t).d| <= -c2 gtd``): bracket, then zoom by cubic
    interpolation. Returns ``(f_new, g_new, t, evaluations)``."""
    d_norm = np.abs(d).max()
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = g_new.dot(d)

    # bracket an interval containing a point satisfying the Wolfe criteria
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # extrapolate: the next trial lies in [t + 0.01 (t - t_prev), 10 t]
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                               bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom: shrink the bracket until a point satisfies the criteria
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                               bracket[1], bracket_f[1], bracket_gtd[1])
        # a trial too close to an end of the bracket (twice, or on it) is moved 10% inside
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # Armijo fails or no lower than the low end: the trial is the new high end
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                # the old low end becomes the high end
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


class LBFGS(Optimizer):
    r"""L-BFGS: quasi-Newton steps from the last ``history_size`` gradient differences.

    ``step(closure)`` runs up to ``max_iter`` iterations; ``closure`` must zero the gradients,
    evaluate the loss, call ``backward`` and return the loss. Each iteration::

        d = -H g     (H: the two-loop recursion over the stored pairs s = x' - x, y = g' - g,
                      with H0 = s.y / y.y; the first direction is -g)
        t = min(1, 1 / |g|_1) * lr on the very first iteration, else lr
        x = x + t d  (with line_search_fn="strong_wolfe", t is chosen by a strong-Wolfe search)

    and stops at ``max(|g|) <= tolerance_grad``, a step or loss change below
    ``tolerance_change``, ``max_iter`` iterations or ``max_eval`` evaluations. All parameters
    are treated as one flat vector, so there is one parameter group, and the state (kept, as
    PyTorch, under the first parameter) is global.

    Parameters
    ----------
    params : iterable of Tensor
    lr : float
        >= 0 (default 1).
    max_iter : int
        Iterations per ``step`` (default 20).
    max_eval : int, optional
        Closure evaluations per ``step`` (default ``max_iter * 5 // 4``).
    tolerance_grad : float
        Stop when every gradient entry is at most this in magnitude (default 1e-7).
    tolerance_change : float
        Stop on a smaller change of the loss or the parameters (default 1e-9).
    history_size : int
        Pairs kept (default 100).
    line_search_fn : None or "strong_wolfe"
        Anything else raises RuntimeError("only 'strong_wolfe' is supported"), as PyTorch does
        (PyTorch raises it at the first ``step``; here at construction).
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        max_iter = check_int(max_iter, "max_iter", 1)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._numel = sum(p._data.size for p in self._params)

    def _check_options(self, group):
        group["lr"] = check_nonnegative(group["lr"], "lr")
        group["max_iter"] = check_int(group["max_iter"], "max_iter", 1)
        group["max_eval"] = check_int(group["max_eval"], "max_eval", 1)
        group["history_size"] = check_int(group["history_size"], "history_size", 1)
        group["tolerance_grad"] = check_real(group["tolerance_grad"], "tolerance_grad")
        group["tolerance_change"] = check_real(group["tolerance_change"], "tolerance_change")
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise RuntimeError("only 'strong_wolfe' is supported")

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    # ----- state dicts: the global state holds flat vectors and lists of them --------------

    def state_dict(self):
        """As :meth:`Optimizer.state_dict`, with the history lists copied too."""
        packed = super().state_dict()
        for entry in packed["state"].values():
            for name in ("old_dirs", "old_stps", "ro", "al"):
                if name in entry:
                    entry[name] = [v.copy() if isinstance(v, np.ndarray) else v
                                   for v in entry[name]]
        return packed

    def _load_param_state(self, i, p, saved_state):
        """Validate LBFGS's global state: counters, numbers, flat vectors of the total size."""
        dtype, numel = self._params[0]._data.dtype, self._numel

        def vector(name, value):
            if not isinstance(value, np.ndarray) or value.shape != (numel,):
                raise ValueError(f"state {name!r} must be a flat array of {numel} values (all "
                                 f"parameters together), got {str(value)[:40]!r}")
            if value.dtype.kind != "f":
                raise TypeError(f"state {name!r} must be a float array, got {value.dtype}")
            return np.array(value, dtype=dtype)

        def number(name, value, allow_none=False):
            if value is None and allow_none:
                return None
            if isinstance(value, np.ndarray) and value.ndim == 0:
                value = value[()]
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                    value, (int, float, np.integer, np.floating)):
                raise TypeError(f"state {name!r} must be a number, got {str(value)[:40]!r}")
            return value.item() if isinstance(value, np.generic) else value

        entry = {}
        for name, value in saved_state.items():
            if name in ("func_evals", "n_iter"):
                value = number(name, value)
                if not (value >= 0 and float(value) == int(value)):
                    raise ValueError(f"state {name!r} must be a non-negative whole number, "
                                     f"got {value!r}")
                entry[name] = int(value)
            elif name in ("d", "prev_flat_grad"):
                entry[name] = vector(name, value)
            elif name in ("t", "H_diag", "prev_loss"):
                entry[name] = number(name, value)
            elif name in ("old_dirs", "old_stps"):
                entry[name] = [vector(name, v) for v in value]
            elif name in ("ro", "al"):
                entry[name] = [number(name, v, allow_none=(name == "al")) for v in value]
            else:
                raise ValueError(f"unknown LBFGS state {name!r}")
        if len(entry.get("old_dirs", ())) != len(entry.get("old_stps", ())) or \
                len(entry.get("old_dirs", ())) != len(entry.get("ro", ())):
            raise ValueError("state 'old_dirs', 'old_stps' and 'ro' must have equal lengths")
        return entry

    # ----- the parameters as one flat vector ---------------------------------------------

    def _gather_flat_grad(self):
        dtype = self._params[0]._data.dtype
        return np.concatenate([
            np.zeros(p._data.size, dtype) if p.grad is None
            else p.grad._data.astype(p._data.dtype, copy=False).ravel()
            for p in self._params])

    def _add_grad(self, step_size, update):
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += step_size * update[offset:offset + n].reshape(p._data.shape)
            p._version_box[0] += 1
            offset += n

    def _clone_param(self):
        return [p._data.copy() for p in self._params]

    def _set_param(self, params_data):
        for p, data in zip(self._params, params_data):
            p._data[...] = data
            p._version_box[0] += 1

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    def step(self, closure):
        """Run up to ``max_iter`` L-BFGS iterations; return the closure's first loss.

        Parameters
        ----------
        closure : callable
            Zeroes the gradients, recomputes the loss, calls ``backward``, returns the loss.
        """
        self._opt_called = True
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        opt_cond = np.abs(flat_grad).max() <= tolerance_grad
        if opt_cond:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # ----- the descent direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:  # keep the pair only where the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                # two-loop recursion: d = -H g with H the L-BFGS inverse Hessian
                num_old = len(old_dirs)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q -= al[i] * old_dirs[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            # ----- the step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # not a descent direction (to tolerance)
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_param()

                def obj_func(x, t, d):
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd,
                    max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                if n_iter != max_iter:
                    # re-evaluate except on the last iteration (its value would go unused)
                    loss = float(closure())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # ----- stopping tests
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state["d"], state["t"] = d, t
        state["old_dirs"], state["old_stps"], state["ro"] = old_dirs, old_stps, ro
        state["H_diag"] = H_diag
        state["prev_flat_grad"], state["prev_loss"] = prev_flat_grad, prev_loss
        return orig_loss
