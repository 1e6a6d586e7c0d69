"""The run layer, between the entry points (`harness/commands/`, the pytest plugin) and the
engine: one typed request, one session, and each mode as a plan.

- `harness.run.request`: `RunRequest`, frozen, built once from flags, `harness.toml` and the
  defaults (`build_request`), recorded whole in run.json;
- `harness.run.session`: `Session`, which runs a request with a mode's plan on Locust, or as a
  smoke run (`harness.run.smoke`);
- `harness.run.plan`: `RunPlan`, what a mode adds (targets, amendments, watch, sinks, judge),
  and the plans: `load_judge.Load`, `rehearsal.Rehearsal` and `FlagMatrix`,
  `rollout.Rollout`, `drill.DrillRun` (with the drill around its runs);
- `harness.run.targets`: resolve a target (name, URL or the bundled sandbox), the load guard
  (`check_allowed`) and the reachability check;
- `harness.run.evidence`: the run's tracing, the merge of other processes' spans once they have
  stopped, the reports once everything is flushed, and `FanOut` for several record sinks;
- `harness.run.inputs`: the request's journeys and results folder.
"""
