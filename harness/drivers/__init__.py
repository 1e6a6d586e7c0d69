"""Drivers decide when virtual users run iterations: `smoke` (each journey once, in-process)
and, for load, the Locust adapter. Both go through `harness.virtual_user.VirtualUser`."""
