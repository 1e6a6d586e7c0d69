"""The generator-health sampler every load process runs in a greenlet: each second, its CPU
and resident memory, its Chromium's CPU, event-loop lag, users, iterations and queued
arrivals, into the process's collector."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import gevent
import psutil

from harness.engine import locust_users
from harness.engine.memory import MB
from harness.touchpoints.chromium_sandbox import SandboxChoice

if TYPE_CHECKING:
    from locust.env import Environment

HEALTH_INTERVAL_S = 1.0


def health_loop(env: Environment) -> None:
    """Every second: this process's CPU and resident memory, its Chromium's CPU, event-loop
    lag, late starts."""
    me = psutil.Process()
    me.cpu_percent(None)
    browsers: dict[int, psutil.Process] = {}
    sandbox_told: SandboxChoice | None = None
    while True:
        start = time.perf_counter()
        gevent.sleep(HEALTH_INTERVAL_S)
        lag_ms = max(0.0, (time.perf_counter() - start - HEALTH_INTERVAL_S) * 1000.0)
        browser_cpu = 0.0
        for pid, proc in list(browsers.items()):
            try:
                browser_cpu += proc.cpu_percent(None)
            except psutil.Error:
                browsers.pop(pid, None)
        for child in me.children(recursive=True):
            try:
                if child.pid not in browsers and "chrom" in child.name().lower():
                    browsers[child.pid] = child
                    child.cpu_percent(None)  # primes the counter; measured from next second
            except psutil.Error:
                continue
        current = locust_users.state()
        sample = {
            "t": round(time.time(), 3),
            "cpu": me.cpu_percent(None),
            "rss_mb": round(_rss(me) / MB, 1),
            "browser_cpu": round(browser_cpu, 1),
            "lag_ms": round(lag_ms, 2),
            "users": env.runner.user_count if env.runner else 0,
            "iterations": current.collector.total_iterations,
            "queued": current.arrivals.qsize(),
        }
        host = current.browser_host
        if host is not None and host.blocked:
            sample["browser_blocked"] = host.blocked  # so far, by the targets' `block` patterns
        if host is not None and host.started and host.sandbox != sandbox_told:
            sandbox_told = host.sandbox  # said once per process (again if it changes)
            sample["browser_sandbox"] = host.sandbox.as_dict()
        current.collector.health(sample)


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.Error:
        return 0
