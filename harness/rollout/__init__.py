"""Staged rollout rehearsal: a rehearsal whose traffic split changes by stage.

`cohort` routes each synthetic person to baseline or candidate by a sticky hash; `stages`
parses the plan and holds the per-stage records; `window` turns one stage's records into the
`RunData` the gates read; `hooks` calls the team's automation; `controller` decides each stage.
"""
