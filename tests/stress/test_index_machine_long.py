"""The incremental-equals-rebuild machine (tests/archive_machine.py), run long."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from tests.archive_machine import ArchiveMachine

TestArchiveMachineLong = ArchiveMachine.TestCase
TestArchiveMachineLong.settings = settings(max_examples=300, stateful_step_count=50,
                                           deadline=None,
                                           suppress_health_check=[HealthCheck.too_slow])
