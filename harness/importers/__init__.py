"""Journeys and workloads from real traffic: `harness import har` (a browser recording becomes a
journey module) and `harness import access-log` (a gateway's log becomes a workload model)."""
