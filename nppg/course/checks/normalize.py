"""The checks of normalize.py's exercises, running_stats (24), in the order of the module: each check
registered under its exercise with ``@check``, its hints beside the property it tests."""
import numpy as np

from ... import normalize as R_norm
from .common import (Fail, call, check, close, copies, diagnose, first_difference, floats, fmt, ints, prop, rng_of,
                     side_by_side, unchanged)


@check('running_stats', 'contract', 'N, shapes, inputs')
def stats_contract(S):
    x = np.random.default_rng(0).standard_normal((5, 3))
    before, inputs = copies(x), fmt(x=x)
    rs = S.normalize.RunningStats((3,))
    call("RunningStats.update", rs.update, x, inputs=inputs)
    unchanged("RunningStats.update", before, [x], inputs)
    if close(rs.mean, np.full(3, x.mean())) and not close(rs.mean, x.mean(0)):
        raise Fail(f"after one update with 5 rows of 3, mean = {fmt(mean=np.asarray(rs.mean))}: the mean of every "
                   f"entry, not each column's {fmt(want=x.mean(0))}, on {inputs}",
                   "np.mean(x) over every entry: m_b = np.mean(x, axis=0), one mean per column (axis=0 runs over the "
                   "rows)", "24")
    if rs.N != 5 or np.shape(rs.mean) != (3,) or np.shape(rs.M2) != (3,):
        raise Fail(f"after one update with 5 rows of 3: N = {rs.N!r}, mean shape {np.shape(rs.mean)}, M2 shape "
                   f"{np.shape(rs.M2)}; expected 5, (3,), (3,)",
                   "N counts the rows seen, N' = N + N_b after each update; mean and M2 have one entry per column", "24")


@check('running_stats', 'math', "merging two halves gives the whole's statistics")
def stats_math(S):
    def test(draw):
        n, d, rng = ints(draw, 2, 12), ints(draw, 1, 3), rng_of(draw)
        k = ints(draw, 1, n - 1)
        x = floats(draw, -5, 5) + rng.standard_normal((n, d)) * floats(draw, 0.1, 5)
        rs = S.normalize.RunningStats((d,))
        inputs = fmt(first=x[:k], then=x[k:])
        call("RunningStats.update", rs.update, x[:k], inputs=inputs)
        call("RunningStats.update", rs.update, x[k:], inputs=inputs)
        m1, m2 = x[:k].mean(0), x[k:].mean(0)
        if rs.N != n:
            raise Fail(f"after merging {k} rows and {n - k} rows, N = {rs.N!r}, not {n}", "N' = N + N_b", "24")
        if not close(rs.mean, x.mean(0), 1e-9):
            raise Fail(f"merging the halves of a batch gives mean {fmt(m=np.asarray(rs.mean))}, not the whole's "
                       f"{fmt(m=x.mean(0))}, on {inputs}",
                       diagnose(rs.mean, [(mm, "the mean of the two means where the count-weighted mean belongs: "
                                           "m' = m + delta N_b / N'") for mm in ((m1 + m2) / 2, (m1 / 2 + m2) / 2)]
                                + [(m2 * k / n, "the mean moved by N / N', the old count's share: it moves towards "
                                    "the batch's mean by the batch's share, m' = m + delta N_b / N' (from N = 0, "
                                    "the first batch's mean)")],
                                "m' = m + delta N_b / N' with delta = m_b - m (24)"), "24")
        var = np.asarray(rs.M2) / n
        if not close(var, x.var(0), 1e-9):
            M2a, M2b = ((x[:k] - m1) ** 2).sum(0), ((x[k:] - m2) ** 2).sum(0)
            raise Fail(f"merging the halves of a batch gives var = M2 / N = {fmt(var=var)}, not the whole's "
                       f"{fmt(var=x.var(0))}, on {inputs}",
                       diagnose(var, [((M2a + M2b) / n, "the delta^2 N N_b / N' term of M2' is missing: the halves' "
                                       "means differ, and that spread is part of the whole's variance"),
                                      ((M2a / k + M2b / (n - k) + (m2 - m1) ** 2 * k * (n - k) / n) / n,
                                       "M2_b is the batch's summed squared deviations, N_b times its variance: "
                                       "np.sum((x - m_b)**2, axis=0), not np.var(x, axis=0)"),
                                      ((M2a + M2b + (m2 - x.mean(0)) ** 2 * k * (n - k) / n) / n,
                                       "delta taken after the mean moved: delta = m_b - m with the old mean m, "
                                       "computed before m' replaces it"),
                                      ((M2a + M2b + (m2 - m1) ** 2) / n, "delta^2 must be weighted by N N_b / N'"),
                                      ((M2a + k * m1 ** 2 + M2b + (m2 - m1) ** 2 * (n - k)) / n, "N updated before the M2 "
                                       "term: delta^2 N N_b / N' takes N, the count before this batch (N' = N + N_b "
                                       "comes after)")],
                                "M2' = M2 + M2_b + delta^2 N N_b / N', M2_b the batch's summed squared deviations from "
                                "its own mean (24)"), "24")
    prop(20)(test)


@check('running_stats', 'agreement', "nppg's RunningStats")
def stats_agree(S):
    def test(draw):
        d, rng = ints(draw, 1, 3), rng_of(draw)
        sizes = [ints(draw, 1, 6) for _ in range(ints(draw, 1, 4))]
        rs, rr = S.normalize.RunningStats((d,)), R_norm.RunningStats((d,))
        for n in sizes:
            x = rng.standard_normal((n, d)) * 3 + 1
            call("RunningStats.update", rs.update, x, inputs=fmt(x=x))
            rr.update(x)
        got, ref = {"N": rs.N, "mean": rs.mean, "M2": rs.M2}, {"N": rr.N, "mean": rr.mean, "M2": rr.M2}
        if first_difference(got, ref) is not None:
            raise Fail(side_by_side("the statistics", got, ref, f"batches of {sizes} rows of {d}"),
                       "right on two halves but not over several batches (a single row, or three batches and more): "
                       "N' = N + N_b, m' = m + delta N_b / N', M2' = M2 + M2_b + delta^2 N N_b / N' (24)", "24")
    prop(15)(test)
