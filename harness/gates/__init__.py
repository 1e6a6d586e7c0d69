"""Release gates: statistics, Kayenta's judge, gate rules over a run, and the verdict."""
