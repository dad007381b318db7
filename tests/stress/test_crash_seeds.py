"""kill -9 at 24 random points of a bigger run (the parse pool included), then recover."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile import test_crashes
from tests.hostile.test_crashes import crash_and_recover, make_template, time_one_run, work_dir

SEEDS = range(100, 124)


@pytest.fixture(scope="module")
def big_template(tmp_path_factory: pytest.TempPathFactory):
    # 2,000 old posts, 2,000 added: both runs use the process pool
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(test_crashes, "OLD_POSTS", 2000)
        patch.setattr(test_crashes, "ADDED_POSTS", 2000)
        template = make_template(tmp_path_factory.mktemp("stress-crash") / "work")
        yield template, time_one_run(template), patch


def test_crash_seeds(big_template) -> None:
    template, run_seconds, _ = big_template
    killed = [crash_and_recover(template, work_dir(template), seed, run_seconds)
              for seed in SEEDS]
    print(f"\ncrash seeds survived: {len(killed)} ({sum(killed)} killed mid-run, "
          f"run {run_seconds:.1f} s, 2000 -> 3950 posts)")
    assert sum(killed) >= len(SEEDS) // 2


def test_ten_mb_body_of_real_words(tmp_path: Path) -> None:
    from searchidx import Index, indexer

    archive = tmp_path / "archive"
    archive.mkdir()
    words = " ".join(f"w{i % 5000}x" for i in range(1_500_000))[:10_000_000]
    (archive / "big.md").write_text(f"---\ntitle: Big\n---\n{words} qzendword\n")
    (archive / "single-token.md").write_text("---\ntitle: Token\n---\n" + "y" * 10_000_000)
    report = indexer.update(tmp_path / "index", [archive], jobs=1)
    assert report.added + len(report.skipped) == 2 and report.added >= 1, report.to_json()
    assert Index.open(tmp_path / "index").search("qzendword").total == 1
