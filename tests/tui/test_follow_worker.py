"""The follow worker's pieces, headless: it stops at RunFinished, reports an unreadable run,
and its message coalesces so a burst of polls is one UI update."""

from __future__ import annotations

from rlrec.engine.training import runs
from rlrec.engine.training.events import FinishReason, RunFinished, RunStarted
from rlrec.tui.messages import FollowedEvents, ShowError
from rlrec.tui.panes.train_follow import FollowInbox, follow_run
from rlrec.tui.widgets.charts import CurveStore


def test_followed_events_messages_coalesce():
    assert FollowedEvents().can_replace(FollowedEvents())
    assert not FollowedEvents().can_replace(ShowError("t", "x"))


def test_follow_run_reads_until_the_run_finishes(tmp_path):
    runs.write_config(tmp_path, {"preset": "seed-classic"})
    writer = runs.MetricsWriter(tmp_path)
    writer.write(RunStarted(str(tmp_path), "seed-classic", 10, {"steps": 10}))
    writer.write(RunFinished(FinishReason.BUDGET, 10, 1, 1.0))
    writer.close()
    inbox, posted = FollowInbox(), []
    follow_run(tmp_path, CurveStore(), inbox, posted.append, lambda: False, poll_seconds=0.01)
    assert [type(m) for m in posted] == [FollowedEvents]
    events = inbox.take()
    assert [type(e) for e in events] == [RunStarted, RunFinished]
    assert events[-1].reason is FinishReason.BUDGET and inbox.take() == []


def test_follow_run_stops_when_cancelled(tmp_path):
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 3

    follow_run(tmp_path, CurveStore(), FollowInbox(), lambda m: None, cancelled, 0.01)
    assert len(calls) > 3
