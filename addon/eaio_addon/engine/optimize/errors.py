"""The one error a plan raises when it cannot be made, with the constraint that bites."""

from __future__ import annotations


class PlanInfeasible(ValueError):
    """No plan satisfies the inputs.

    ``code`` is stable and machine-readable (``invalid_bounds``, ``missing_input``,
    ``ev_energy_unreachable``, ``deferrable_window_too_short``, ``comfort_unreachable``,
    ``terminal_soc_unreachable``, ``conflicting_constraints``, ``solver_failed``);
    ``constraints`` names the constraints involved; the message says it in words, with the
    numbers, so it can be shown to a user as is.
    """

    def __init__(self, code: str, message: str, constraints: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.constraints = constraints

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"
