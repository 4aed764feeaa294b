"""Plans for a battery, EVs, deferrable runs and HVAC: LP/MILP on HiGHS, with reasons.

``make_plan`` puts everything into one model; ``plan_battery`` is the battery alone and
``plan_battery_safe`` the same, never expected to do worse than the battery's own
self-consumption mode (``safe``), also with a car and appliance runs in the plan. All return a
:class:`Plan` (schedules, totals against doing nothing, reason codes) or raise
:class:`PlanInfeasible` naming the constraint that bites.
"""

from .errors import PlanInfeasible
from .plan import make_plan, plan_battery
from .result import BatteryPlan, DeferrablePlan, EVPlan, HvacPlan, Plan, Reason, Totals
from .safe import plan_battery_safe, self_consumption
from .spec import Battery, CarbonCap, DeferrableRun, EVCharge, HvacSpec, SiteInputs

__all__ = [
    "Battery",
    "BatteryPlan",
    "CarbonCap",
    "DeferrablePlan",
    "DeferrableRun",
    "EVCharge",
    "EVPlan",
    "HvacPlan",
    "HvacSpec",
    "Plan",
    "PlanInfeasible",
    "Reason",
    "SiteInputs",
    "Totals",
    "make_plan",
    "plan_battery",
    "plan_battery_safe",
    "self_consumption",
]
