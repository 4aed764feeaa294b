"""A small sparse LP/MILP builder on HiGHS, with a diagnosis of infeasibility.

Variables and rows are added in vectorised blocks (one call per kind per horizon, not one
per hour): building the model is then a few numpy concatenations, which keeps a 48-hour
plan in the low milliseconds. The solver is HiGHS, through ``highspy`` when it is installed
(about half the overhead) and through scipy's bundled copy otherwise.

Constraints a user sets (an EV's energy, a deadline, a comfort band, a grid limit) are
registered as named *groups*. When the model is infeasible, :meth:`LinearModel.conflict`
finds a smallest set of groups that cannot hold together (a deletion filter: drop each
group in turn and keep it dropped if the rest stays infeasible), so the error can name the
constraints that bite instead of "infeasible".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
import os
import threading
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from ..series import FloatArray

IntArray = NDArray[np.int64]
INF = np.inf

_highspy: Any
try:  # optional: the faster path; scipy's HiGHS is the fallback
    import highspy as _highspy
except ImportError:  # pragma: no cover - depends on the environment
    _highspy = None

BACKEND = "highspy" if _highspy is not None else "scipy"
"""Which HiGHS binding solves; tests switch it to check that both give the same plans."""

_banner_lock = threading.Lock()
_banner_done = False


def _new_highs() -> Any:
    """A silent HiGHS instance.

    HiGHS prints its banner to the C-level stdout when the first instance is made, before
    any option can be set. The add-on may speak a protocol on stdout, so that first
    construction happens with file descriptor 1 pointed at /dev/null.
    """
    global _banner_done
    assert _highspy is not None
    with _banner_lock:
        if not _banner_done:
            saved = os.dup(1)
            try:
                with open(os.devnull, "wb") as null:
                    os.dup2(null.fileno(), 1)
                    try:
                        first = _highspy._core._Highs()
                        first.setOptionValue("output_flag", False)
                    finally:
                        os.dup2(saved, 1)
            finally:
                os.close(saved)
            _banner_done = True
    solver = _highspy._core._Highs()
    solver.setOptionValue("output_flag", False)
    # One thread: these models are small, and on a shared two-core host the MIP's worker
    # threads cost more in waiting than they gain (measured: about twice the wall time).
    solver.setOptionValue("threads", 1)
    return solver


@dataclass
class Group:
    """A relaxable set of rows and/or variable bounds, with a sentence for the user."""

    name: str
    description: str
    rows: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cols: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    relaxed_lb: FloatArray = field(default_factory=lambda: np.zeros(0))
    relaxed_ub: FloatArray = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True)
class Solution:
    status: str  # "optimal", "infeasible", "unbounded" or the solver's word
    x: FloatArray
    objective: float

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


@dataclass(frozen=True)
class _Arrays:
    cost: FloatArray
    lb: FloatArray
    ub: FloatArray
    integer: NDArray[np.bool_]
    matrix: sparse.csc_array
    row_lo: FloatArray
    row_hi: FloatArray


def _full(value: ArrayLike, n: int) -> FloatArray:
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()


class LinearModel:
    """minimise ``cost @ x`` subject to ``row_lo <= A x <= row_hi``, ``lb <= x <= ub``."""

    def __init__(self) -> None:
        self.n = 0
        self.m = 0
        self._cost: list[FloatArray] = []
        self._lb: list[FloatArray] = []
        self._ub: list[FloatArray] = []
        self._int: list[NDArray[np.bool_]] = []
        self._r: list[IntArray] = []
        self._c: list[IntArray] = []
        self._v: list[FloatArray] = []
        self._lo: list[FloatArray] = []
        self._hi: list[FloatArray] = []
        self.groups: dict[str, Group] = {}
        self._arrays: _Arrays | None = None

    def var(
        self, n: int, lb: ArrayLike = 0.0, ub: ArrayLike = INF, cost: ArrayLike = 0.0, *, integer: bool = False
    ) -> IntArray:
        idx = np.arange(self.n, self.n + n, dtype=np.int64)
        self.n += n
        self._lb.append(_full(lb, n))
        self._ub.append(_full(ub, n))
        self._cost.append(_full(cost, n))
        self._int.append(np.full(n, integer))
        self._arrays = None
        return idx

    def rows(self, lo: ArrayLike, hi: ArrayLike, n: int) -> IntArray:
        idx = np.arange(self.m, self.m + n, dtype=np.int64)
        self.m += n
        self._lo.append(_full(lo, n))
        self._hi.append(_full(hi, n))
        self._arrays = None
        return idx

    def coef(self, rows: ArrayLike, cols: ArrayLike, vals: ArrayLike) -> None:
        r, c, v = np.broadcast_arrays(
            np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), np.asarray(vals, dtype=np.float64)
        )
        self._r.append(r.ravel())
        self._c.append(c.ravel())
        self._v.append(v.ravel())
        self._arrays = None

    def group(
        self,
        name: str,
        description: str,
        *,
        rows: IntArray | None = None,
        cols: IntArray | None = None,
        relaxed_lb: ArrayLike = -INF,
        relaxed_ub: ArrayLike = INF,
    ) -> None:
        cols_ = cols if cols is not None else np.zeros(0, dtype=np.int64)
        self.groups[name] = Group(
            name,
            description,
            rows if rows is not None else np.zeros(0, dtype=np.int64),
            cols_,
            _full(relaxed_lb, cols_.size),
            _full(relaxed_ub, cols_.size),
        )

    def _assemble(self) -> _Arrays:
        if self._arrays is None:
            cat = np.concatenate
            rows = cat(self._r) if self._r else np.zeros(0, dtype=np.int64)
            cols = cat(self._c) if self._c else np.zeros(0, dtype=np.int64)
            vals = cat(self._v) if self._v else np.zeros(0)
            matrix = sparse.csc_array((vals, (rows, cols)), shape=(self.m, self.n))
            matrix.sum_duplicates()
            self._arrays = _Arrays(
                cost=cat(self._cost) if self._cost else np.zeros(0),
                lb=cat(self._lb) if self._lb else np.zeros(0),
                ub=cat(self._ub) if self._ub else np.zeros(0),
                integer=cat(self._int) if self._int else np.zeros(0, dtype=bool),
                matrix=matrix,
                row_lo=cat(self._lo) if self._lo else np.zeros(0),
                row_hi=cat(self._hi) if self._hi else np.zeros(0),
            )
        return self._arrays

    def row_activity(self, x: FloatArray) -> FloatArray:
        return np.asarray(self._assemble().matrix @ x, dtype=np.float64)

    def solve(self, relax: Sequence[str] = (), time_limit: float = 10.0) -> Solution:
        arrays = self._assemble()
        lb, ub, lo, hi = arrays.lb, arrays.ub, arrays.row_lo, arrays.row_hi
        if relax:
            lb, ub, lo, hi = lb.copy(), ub.copy(), lo.copy(), hi.copy()
            for name in relax:
                g = self.groups[name]
                lo[g.rows] = -INF
                hi[g.rows] = INF
                lb[g.cols] = np.minimum(lb[g.cols], g.relaxed_lb)
                ub[g.cols] = np.maximum(ub[g.cols], g.relaxed_ub)
        if BACKEND == "highspy":
            return _solve_highs(arrays, lb, ub, lo, hi, time_limit)
        return _solve_scipy(arrays, lb, ub, lo, hi, time_limit)

    def conflict(self) -> list[str]:
        """A smallest set of groups that cannot all hold (empty if the core is infeasible)."""
        names = list(self.groups)
        if not self.solve(relax=names).ok:
            return []
        needed = list(names)
        for name in names:
            trial = [g for g in needed if g != name]
            relaxed = [g for g in names if g not in trial]
            if not self.solve(relax=relaxed).ok:
                needed = trial
        return needed


def _solve_highs(
    arrays: _Arrays, lb: FloatArray, ub: FloatArray, lo: FloatArray, hi: FloatArray, time_limit: float
) -> Solution:
    assert _highspy is not None
    h = _new_highs()
    h.setOptionValue("time_limit", float(time_limit))
    lp = _highspy.HighsLp()
    lp.num_col_ = arrays.cost.shape[0]
    lp.num_row_ = lo.shape[0]
    lp.col_cost_ = arrays.cost
    lp.col_lower_ = lb
    lp.col_upper_ = ub
    lp.row_lower_ = lo
    lp.row_upper_ = hi
    a = arrays.matrix
    lp.a_matrix_.format_ = _highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    if arrays.integer.any():
        kinds = _highspy.HighsVarType
        lp.integrality_ = [kinds.kInteger if i else kinds.kContinuous for i in arrays.integer]
        h.setOptionValue("mip_rel_gap", 1e-4)
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    statuses = _highspy.HighsModelStatus
    if status == statuses.kOptimal:
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
        return Solution("optimal", x, float(h.getInfo().objective_function_value))
    word = {
        statuses.kInfeasible: "infeasible",
        statuses.kUnbounded: "unbounded",
        statuses.kUnboundedOrInfeasible: "infeasible",
    }.get(status, h.modelStatusToString(status))
    return Solution(word, np.zeros(0), float("nan"))


def _solve_scipy(
    arrays: _Arrays, lb: FloatArray, ub: FloatArray, lo: FloatArray, hi: FloatArray, time_limit: float
) -> Solution:
    from scipy.optimize import Bounds, LinearConstraint, milp

    res = milp(
        arrays.cost,
        constraints=LinearConstraint(arrays.matrix, lo, hi),
        bounds=Bounds(lb, ub),
        integrality=arrays.integer.astype(np.int64),
        options={"time_limit": time_limit, "mip_rel_gap": 1e-4},
    )
    if res.status == 0 and res.x is not None:
        return Solution("optimal", np.asarray(res.x, dtype=np.float64), float(res.fun))
    word = {2: "infeasible", 3: "unbounded"}.get(res.status, res.message)
    return Solution(word, np.zeros(0), float("nan"))
