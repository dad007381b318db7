"""Incremental equals a fresh rebuild (tests/archive_machine.py), bounded for `make test`;
`make stress` runs it longer. And the machine is strong enough to catch the mistakes
it is there for: a sync that ignores ctime, or one that ignores configuration changes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from searchidx import config, indexer
from tests.archive_machine import ArchiveMachine

BOUNDED = settings(max_examples=12, stateful_step_count=20, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])

TestArchiveMachine = ArchiveMachine.TestCase
TestArchiveMachine.settings = BOUNDED


def _ignoring_ctime(state, cand) -> bool:
    return (state.mtime_ns, state.size) == (cand.mtime_ns, cand.size)


@pytest.mark.parametrize("mutate", [
    lambda monkeypatch: monkeypatch.setattr(indexer, "_stat_matches", _ignoring_ctime),
    lambda monkeypatch: monkeypatch.setattr(config.Config, "digest", property(lambda _: "")),
], ids=["sync ignores ctime", "sync ignores configuration changes"])
def test_the_machine_catches_this_mutation(monkeypatch, mutate) -> None:
    mutate(monkeypatch)
    with pytest.raises(AssertionError):
        run_state_machine_as_test(ArchiveMachine, settings=settings(
            BOUNDED, max_examples=30, derandomize=True, database=None,
            phases=[Phase.generate]))
