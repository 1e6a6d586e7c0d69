"""What the benches share: the processes they start (nginx, the sandbox, `harness load`, raw
Locust, wrk), each stopped by PID; CPU sampling; paired-round statistics; the printed table and
the one JSON line of `--json`.

    procs    every child process, stopped by PID; free loopback ports
    cpu      CPU of the generator, the target and the rest of the machine during a run
    servers  nginx on a free loopback port, the sandbox, the ping target of the throughput runs
    runs     one `harness load`, raw Locust or wrk run in a subprocess, and its numbers
    stats    medians, bootstrap intervals, percentiles, alternated orders
    output   `say`, result rows, the table and the JSON line
"""
