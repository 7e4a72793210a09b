"""Prometheus metrics of one service instance (its own registry, so tests can run many)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
STATUS_VALUE = {"ok": 0, "degraded": 1, "offline": 2}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.attempts = Counter(
            "camfetch_job_attempts",
            "Scheduled actions by job and outcome (ok, or the error kind, or a gap reason)",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.lateness = Histogram(
            "camfetch_job_lateness_seconds",
            "How late an action started after its tick",
            ["job"],
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )
        self.health = Gauge(
            "camfetch_channel_health",
            "Channel status: 0 ok, 1 degraded, 2 offline",
            ["device", "channel"],
            registry=self.registry,
        )
        self.latest_fetches = Counter(
            "camfetch_latest_fetches",
            "Snapshots taken to refresh the latest-picture cache",
            ["device"],
            registry=self.registry,
        )
        self.latest_served = Counter(
            "camfetch_latest_served",
            "Latest pictures served by the API, by source (cache, fresh, catalog)",
            ["source"],
            registry=self.registry,
        )

    def observe(self, job: str, outcome: str, lateness: float) -> None:
        self.attempts.labels(job, outcome).inc()
        if outcome == "ok" or lateness > 0:
            self.lateness.labels(job).observe(max(0.0, lateness))

    def render(self) -> bytes:
        return generate_latest(self.registry)
