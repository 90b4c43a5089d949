"""Monitoring a deployed model, offline: profiles of data windows, drift tests with
alarms a team can trust, label-free performance estimates and out-of-distribution
detectors. Everything takes arrays or profiles and returns results; opening incidents
and serving pages is the caller's job (docs/architecture.md)."""

__all__: list[str] = []
