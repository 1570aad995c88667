"""A scenario's expected outcome, and the verdict: `rehearse` exits 0 exactly when the outcome is it.

Each scenario states what a correct product does with it:

- approve (and second-approval): prod gets the new version (every prod target serves the newest
  approved package in every deploy region);
- reject, fail-test, break-account, break-network, no-approved-model: prod untouched, *and* the pipeline stopped where
  the fault is (the approval, the staging test, the staging deployment or its test, the build): a
  pipeline that stops for another reason (a denied call, a missing file) is not the expected outcome;
- reject-live: every endpoint rolled back (every staging and prod target serves the previous version).

So a rehearsal with `--reject` exits 0 when the rejection kept prod untouched, and 1 when the pipeline
let the model through or broke on something else: every scenario can run in CI as a check.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Outcomes.
PROD_GETS_NEW_VERSION = "prod gets the new version"
PROD_UNTOUCHED = "prod untouched"
ROLLED_BACK = "every endpoint rolled back"
#: Where a fault must stop the pipeline (see `Stop`).
STOPS = {
    "reject": ("approval",),
    "fail-test": ("staging-test",),
    "break-account": ("staging-deploy", "staging-test"),
    "break-network": ("staging-deploy", "staging-test"),
    "no-approved-model": ("build",),
}
#: The flags that choose a scenario (at most one), by scenario.
FLAGS = {
    "reject": "--reject",
    "fail-test": "--fail-test",
    "break-account": "--break-account",
    "break-network": "--break-network",
    "no-approved-model": "--no-approved-model",
    "second-approval": "--second-approval",
    "reject-live": "--reject-live",
}


@dataclass(frozen=True)
class Expectation:
    """What the scenario expects: an outcome and, for a fault, where the pipeline must stop."""

    scenario: str
    outcome: str
    stops: tuple[str, ...] = ()

    def describe(self) -> str:
        where = f", stopped at the {' or the '.join(s.replace('-', ' ') for s in self.stops)}" if self.stops else ""
        return self.outcome + where


def chosen(flags: dict[str, bool]) -> list[str]:
    """The scenarios whose flag is set (scenario name -> set?), in FLAGS order."""
    return [name for name in FLAGS if flags.get(name)]


def expectation(scenario: str) -> Expectation:
    """The expected outcome of a scenario (approve when none was chosen)."""
    if scenario in STOPS:
        return Expectation(scenario, PROD_UNTOUCHED, STOPS[scenario])
    if scenario == "reject-live":
        return Expectation(scenario, ROLLED_BACK)
    if scenario in ("approve", "second-approval"):
        return Expectation(scenario, PROD_GETS_NEW_VERSION)
    raise ValueError(f"unknown scenario {scenario!r}")


def verdict(expected: Expectation, actual: str, stopped_at: str) -> bool:
    """Is the actual outcome (and, for a fault, where the pipeline stopped) the expected one?"""
    if actual != expected.outcome:
        return False
    return not expected.stops or stopped_at in expected.stops
