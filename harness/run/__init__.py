"""The run layer, between the entry points (`harness/commands/`, the pytest plugin) and the
engine: what every run needs before and after its journeys, typed, so that no entry point
borrows another's helpers or builds an `argparse.Namespace` to call them.

- `harness.run.targets`: resolve a target (name, URL or the bundled sandbox), the load guard
  (`check_allowed`) and the reachability check;
- `harness.run.evidence`: the run's tracing, the merge of other processes' spans once they have
  stopped, the reports once everything is flushed, and `FanOut` for several record sinks;
- `harness.run.inputs`: config, journeys, seed and results folder of a command.

Planned (issue 21): a frozen `RunRequest` built once from flags, config and defaults, and one
session object running every mode as a plan.
"""
