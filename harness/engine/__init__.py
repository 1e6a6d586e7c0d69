"""The load engine: plans and shapes (no Locust import), the record collector, and the Locust
adapter (`harness.engine.locust_driver`, the only module that imports locust or gevent)."""
