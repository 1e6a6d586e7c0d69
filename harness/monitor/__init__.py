"""`harness monitor`: the selected journeys as smoke checks on a schedule against a live
target, with deduplicated alerts through the hook mechanism and Prometheus metrics."""
