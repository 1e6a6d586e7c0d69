"""One module per `harness` command; each is a thin adapter over the runtime and drivers."""
