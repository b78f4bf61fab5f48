"""Explore pane: what the trained agent recommends to each user, beside a baseline and the
simulator's hidden truth, and why.

Left, a searchable user list; right, the selected user's profile, preferences and history,
the agent's top-K (Q-values, item details, "hidden truth" = the simulator's true preference)
and a baseline's top-K (popularity or LinUCB, `b` switches). `enter` on a recommended item
opens the "why" view from `engine.explain`.

The run is loaded (torch!) and recommendations are computed in thread workers; they post
messages, never touch widgets. Results for a user that is no longer selected are dropped.
While the pane is on screen it follows a run that is still training: each newer checkpoint is
loaded and the selected user's lists are computed again.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from rlrec.data.errors import RlrecError, error_line
from rlrec.engine.training.runs import CONFIG_FILE, is_unused_folder
from rlrec.tui.heap import settle_heap
from rlrec.tui.messages import StateUpdated
from rlrec.tui.panes import explore_data
from rlrec.tui.panes.explore_data import (
    BaselineDetails,
    RunFailed,
    RunLoaded,
    UserDetails,
    UsersIndexed,
    checkpoint_stamp,
)
from rlrec.tui.widgets.explorer import (
    AGENT_COLUMNS,
    BASELINE_COLUMNS,
    HISTORY_COLUMNS,
    WhyScreen,
    agent_rows,
    baseline_rows,
    format_profile,
    history_rows,
)
from rlrec.tui.widgets.tables import fill_table
from rlrec.tui.widgets.user_list import UserList

if TYPE_CHECKING:
    from rlrec.data.dataset import Dataset
    from rlrec.engine.serving.artifacts import ServingRun
    from rlrec.engine.serving.recommend import Recommendation, RecommendedItem
    from rlrec.tui.app import RlrecApp

TOP_K = 10
FIRST_BASELINE = "popular"
# While the pane is on screen, how often it looks for a newer checkpoint of the open run: a run
# still training opens with its first checkpoint and then follows the newer ones.
CHECKPOINT_POLL_SECONDS = 2.0
# Seconds a selection rests before its details are computed (see `_fetch`).
DETAILS_DELAY = 0.08


class ExplorePane(Widget):
    """Per-user recommendations of the trained agent vs a baseline, with the hidden truth."""

    HELP = """\
## Explore

Browse what the trained agent recommends to each user.

- **/** search users: a word matches ids that start with it (the dataset's id or the row
  number) and segments or activities that contain it; every word must match. **enter** goes
  to the list.
- **j / k** (or up / down in the list) move between users; **page up / page down**,
  **home / end** jump.
- **tab** moves to the recommendations; **enter** on an item shows *why* it fits:
  the most similar items in the user's history (cosine of item features) and how its
  category matches the user's preferences.
- **b** switches the baseline between the reference policies (most popular, LinUCB, …).
- **t** trains a run when there is none yet.

*Q* is the agent's estimated value of recommending the item now; *hidden truth* is the
simulator's true engagement probability, which the agent never sees. *source* says whether
the list came from the agent or a cold-start fallback.
"""

    BINDINGS = [
        Binding("slash", "search", "Search", id="explore.search", tooltip="Search users"),
        Binding("j", "move_user(1)", "Next user", id="explore.next", tooltip="Next user"),
        Binding("k", "move_user(-1)", "Prev user", id="explore.prev", tooltip="Previous user"),
        Binding(
            "b",
            "switch_baseline",
            "Baseline",
            id="explore.baseline",
            tooltip="Switch baseline: the next reference policy",
        ),
        Binding("t", "train", "Train", id="explore.train", tooltip="Train a run to explore"),
    ]

    DEFAULT_CSS = """
    ExplorePane { height: 1fr; }
    ExplorePane #explore-body { height: 1fr; }
    ExplorePane #explore-users { width: 37; height: 1fr; }
    ExplorePane #explore-detail { padding: 0 1; }
    ExplorePane #explore-run { height: auto; color: $text-muted; }
    ExplorePane #explore-run.-missing { color: $warning; text-style: bold; }
    ExplorePane #explore-profile { height: auto; padding: 0 0 1 0; }
    ExplorePane #explore-lists { height: auto; }
    ExplorePane #explore-lists > Vertical { width: 1fr; height: auto; }
    ExplorePane #explore-lists > #explore-agent-box { width: 78; margin: 0 1 0 0; }
    ExplorePane.-stack-lists #explore-lists > #explore-agent-box { width: 1fr; margin: 0; }
    ExplorePane .explore--title {
        text-style: bold; height: 1; text-wrap: nowrap; text-overflow: ellipsis;
    }
    ExplorePane DataTable.explore--recs { height: auto; max-height: 14; }
    ExplorePane #explore-history { height: auto; max-height: 12; }
    /* Narrow (80 columns): the user list keeps its side, slimmer (id and segment show, the
       rest scrolls sideways), so the top-K stays on the first screen beside it. */
    ExplorePane.-narrow #explore-users { width: 26; }
    ExplorePane.-narrow #explore-profile { padding: 0; }
    ExplorePane.-stack-lists #explore-lists { layout: vertical; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.run: ServingRun | None = None
        self.run_dir: Path | None = None
        self.dataset: Dataset | None = None
        self.baseline = FIRST_BASELINE
        self._run_stamp: float | None = None
        self._selected: str | None = None
        self._agent_items: list[RecommendedItem] = []
        self._baseline_items: list[RecommendedItem] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="explore-body"):
            yield UserList(id="explore-users")
            with VerticalScroll(id="explore-detail", can_focus=False):
                yield Static("", id="explore-run")
                yield Static("", id="explore-profile")
                with Horizontal(id="explore-lists"):
                    with Vertical(id="explore-agent-box"):
                        yield Static("Agent", id="explore-agent-title", classes="explore--title")
                        yield DataTable(
                            id="explore-agent", cursor_type="row", classes="explore--recs"
                        )
                    with Vertical(id="explore-baseline-box"):
                        yield Static(
                            "Baseline", id="explore-baseline-title", classes="explore--title"
                        )
                        yield DataTable(
                            id="explore-baseline", cursor_type="row", classes="explore--recs"
                        )
                yield Static(
                    "History (newest first)", id="explore-history-title", classes="explore--title"
                )
                yield DataTable(id="explore-history", cursor_type="row")

    def on_mount(self) -> None:
        fill_table(self.query_one("#explore-agent", DataTable), AGENT_COLUMNS, [])
        fill_table(self.query_one("#explore-baseline", DataTable), BASELINE_COLUMNS, [])
        fill_table(self.query_one("#explore-history", DataTable), HISTORY_COLUMNS, [])
        self._show_run_status()
        self.sync_with_state()
        self.set_interval(CHECKPOINT_POLL_SECONDS, self._poll_checkpoint)

    def _poll_checkpoint(self) -> None:
        # A hidden pane catches up when shown (on_show). A load under way is left to finish
        # (the next tick sees any newer checkpoint): replacing it at every checkpoint could
        # leave a run that checkpoints faster than it loads never shown at all.
        loading = any(w.group == "explore-run" and not w.is_finished for w in self.workers)
        if self.is_on_screen and not loading:
            self.sync_with_state()

    def focus_default(self) -> None:
        """Where keys go when the pane is shown: the user list (j/k, enter)."""
        self.sync_with_state()
        self.query_one(UserList).focus_list()

    def on_resize(self) -> None:
        self.set_class(self.size.width < 100, "-narrow")
        # The two top-K tables sit side by side only when both fit with their columns.
        self.set_class(self.size.width < 158, "-stack-lists")

    # -- what is open ------------------------------------------------------------------------
    def on_state_updated(self, message: StateUpdated) -> None:
        self.sync_with_state()

    def on_show(self) -> None:
        self.sync_with_state()

    def sync_with_state(self) -> None:
        """Open the app's current run (or dataset) if it is not the one shown. A run is
        reloaded when its checkpoint changed (training went on), and waited for while it has
        none yet (training just started)."""
        state = getattr(self.app, "state", None)
        if state is None:
            return
        run_dir = getattr(state, "run_dir", None)
        if run_dir is not None:
            run_dir = Path(run_dir)
            stamp = checkpoint_stamp(run_dir)
            same_run = run_dir == self.run_dir
            if same_run and stamp == self._run_stamp:
                return
            self.run_dir, self._run_stamp = run_dir, stamp
            # A folder still empty is a run whose trainer is starting (in its own process).
            starting = (run_dir / CONFIG_FILE).exists() or is_unused_folder(run_dir)
            if stamp is None and starting:
                self._show_run_status(
                    f"Run {escape(run_dir.name)} has no checkpoint yet (still training?) — "
                    "it opens here as soon as it has one.",
                    missing=True,
                )
                if self.run is None and state.dataset is not None:
                    self._set_dataset(state.dataset, keep_status=True)
                return
            if not (same_run and self.run is not None):  # a newer checkpoint loads quietly
                self._show_run_status(f"Loading run {escape(run_dir.name)}…")
            self._load_run(run_dir)
        elif self.run is None and state.dataset is not None and state.dataset is not self.dataset:
            self._set_dataset(state.dataset)

    @work(thread=True, exclusive=True, exit_on_error=False, group="explore-run")
    def _load_run(self, run_dir: Path) -> None:
        try:
            run = explore_data.load_run(run_dir)
        except Exception as exc:  # noqa: BLE001 — RlrecError or a bug: both shown, app stays up
            self.post_message(RunFailed(run_dir, error_line(exc)))
            return
        if not get_current_worker().is_cancelled:  # else a newer checkpoint's load replaced it
            self.post_message(RunLoaded(run, run_dir))

    @on(RunLoaded)
    def _run_loaded(self, message: RunLoaded) -> None:
        if message.run_dir != self.run_dir:
            return
        newer_checkpoint = self.run is not None and self.run.path == message.run.path
        self.run = message.run
        if newer_checkpoint:
            # Same run, same users: keep the list and its cursor, redo the selected user's lists.
            self._show_run_status()
            self._refetch_selected()
            return
        self._set_dataset(message.run.dataset, n_users=message.run.start.n_users)
        # The first run loaded brings torch and the run's arrays: keep full collections short.
        self.call_after_refresh(settle_heap)

    @on(RunFailed)
    def _run_failed(self, message: RunFailed) -> None:
        self.run = None
        # Said here, not in a dialog: the pane is where the user looks for the run.
        self._show_run_status(
            escape(f"Cannot open run {message.run_dir}: {message.text}"), missing=True
        )

    def _show_run_status(self, text: str | None = None, *, missing: bool | None = None) -> None:
        status = self.query_one("#explore-run", Static)
        if text is None:
            if self.run is None:
                text = (
                    "No trained run yet — press [b]t[/b] to train one now, "
                    "or open a past run from Runs ([b]4[/b]). Until then the lists show "
                    "the dataset's users and their history only."
                )
                missing = True
            else:
                preset = getattr(getattr(self.run, "config", None), "preset", None)
                text = (
                    f"Run [b]{escape(self.run_dir.name) if self.run_dir else '?'}[/b]"
                    + (f" ({escape(str(preset))})" if preset else "")
                    + " · Q = the agent's value estimate · hidden truth = the simulator's "
                    "engagement probability, which the agent never sees · enter on an item: why"
                )
                missing = False
        status.update(text)
        status.set_class(bool(missing), "-missing")
        # No run, no lists: the message above says how to get one instead of empty tables.
        self.query_one("#explore-lists").display = self.run is not None

    def _set_dataset(
        self, dataset: Dataset | None, n_users: int | None = None, keep_status: bool = False
    ) -> None:
        self.dataset = dataset
        if not keep_status:
            self._show_run_status()
        self._selected = None  # the run or dataset changed: fetch the user's lists again
        self._index_users(dataset, n_users)

    # A description given: by default Textual writes one from repr() of the arguments, and the
    # repr of a dataset (its DataFrames) takes tens of milliseconds on the event loop.
    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="explore-index",
        description="index users",
    )
    def _index_users(self, dataset: Dataset | None, n_users: int | None) -> None:
        # Seconds at a million users (ids sorted for search): off the event loop.
        try:
            index = explore_data.index_users(dataset, n_users)
        except Exception as exc:  # noqa: BLE001 — a bug: shown in the list, app stays up
            self.post_message(UsersIndexed(dataset, None, error_line(exc)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(UsersIndexed(dataset, index))

    @on(UsersIndexed)
    def _users_indexed(self, message: UsersIndexed) -> None:
        if message.dataset is not self.dataset:
            return  # another dataset or run was opened meanwhile
        users = self.query_one(UserList)
        users.set_users(message.index, counts_known=self.dataset is not None)
        self.call_after_refresh(settle_heap)  # a big load settled: see `tui.heap`
        if message.error:
            users.say(f"Cannot list the users: {message.error}")

    # -- the user list -----------------------------------------------------------------------
    def action_search(self) -> None:
        self.query_one(UserList).focus_search()

    def action_move_user(self, step: int) -> None:
        self.query_one(UserList).move(step)

    @on(UserList.Highlighted)
    def _user_highlighted(self, message: UserList.Highlighted) -> None:
        self._select(message.user)

    @on(UserList.NoMatch)
    def _no_user(self) -> None:
        # Nobody matches the search: show nobody's details rather than the last user's.
        self._selected = None
        self.query_one("#explore-profile", Static).update("No user matches the search.")
        self._agent_items = []
        self._fill_agent(None)
        self._fill_baseline(None)
        self._fill_history([])

    @on(UserList.Chosen)
    def _user_chosen(self, message: UserList.Chosen) -> None:
        self.query_one("#explore-agent", DataTable).focus()

    def _select(self, user: str) -> None:
        if user == self._selected:
            return
        self._selected = user
        self._fetch(user, self.run, self.dataset, self.baseline)

    def _refetch_selected(self) -> None:
        """The selected user's lists again (another run checkpoint or baseline)."""
        if self._selected is not None:
            user, self._selected = self._selected, None
            self._select(user)

    # -- per-user details --------------------------------------------------------------------
    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="explore-user",
        description="user details",  # not repr() of the run and dataset: see _index_users
    )
    def _fetch(
        self, user: str, run: ServingRun | None, dataset: Dataset | None, baseline: str
    ) -> None:
        from rlrec.engine.serving import explain

        # Wait for the selection to rest: while keys move the cursor or narrow the search, each
        # new selection cancels this worker before it does any work, so the keys are not
        # slowed by details nobody stays to read.
        time.sleep(DETAILS_DELAY)
        if get_current_worker().is_cancelled:
            return
        profile, history, agent, error = None, [], None, None
        try:
            if dataset is not None:
                index = explain.user_index(dataset, user)
                profile = explain.user_profile(dataset, index)
                history = explain.user_history(dataset, index, limit=50)
            if run is not None:
                agent = explore_data.recommend(run, user, TOP_K, "agent")
        except Exception as exc:  # noqa: BLE001 — RlrecError or an engine bug: show, stay up
            error = error_line(exc)
        self.post_message(UserDetails(user, profile, history, agent, error))
        # Without a dataset (seed-classic) the engine has no baseline to offer.
        if run is None or run.dataset is None:
            return
        result, error = None, None
        try:
            result = explore_data.recommend(run, user, TOP_K, baseline)
        except Exception as exc:  # noqa: BLE001
            error = error_line(exc)
        self.post_message(BaselineDetails(user, baseline, result, error))

    @on(UserDetails)
    def _details(self, message: UserDetails) -> None:
        if message.user != self._selected:
            return  # the selection moved on while this was computed
        with self.app.batch_update():
            profile = format_profile(message.user, message.profile)
            if message.error:
                profile += f"\n[red]{escape(message.error)}[/red]"
            self.query_one("#explore-profile", Static).update(profile)
            self._agent_items = message.agent.items if message.agent is not None else []
            self._fill_agent(message.agent)
            self._fill_history(message.history)
            self._fill_baseline(None, pending=self.run is not None and self.dataset is not None)

    @on(BaselineDetails)
    def _baseline_details(self, message: BaselineDetails) -> None:
        if message.user != self._selected or message.policy != self.baseline:
            return
        self._fill_baseline(message.result, error=message.error)

    def _fill_agent(self, agent: Recommendation | None) -> None:
        table = self.query_one("#explore-agent", DataTable)
        title = self.query_one("#explore-agent-title", Static)
        if agent is None:
            title.update("Agent — no trained run")
        else:
            source = escape(agent.source)
            title.update(f"Agent top-{len(self._agent_items)} · source: {source}")
        fill_table(table, AGENT_COLUMNS, agent_rows(self._agent_items))

    def _fill_baseline(
        self,
        result: Recommendation | None,
        *,
        pending: bool = False,
        error: str | None = None,
    ) -> None:
        table = self.query_one("#explore-baseline", DataTable)
        self._baseline_items = result.items if result is not None else []
        table.display = result is not None
        name = explore_data.baseline_label(self.baseline)
        if result is not None:
            status = f"source: {result.source}"
        elif error:
            status = f"failed: {error}"
        elif pending:
            note = explore_data.baseline_first_fit_note(self.baseline)
            slow = note and self.run is not None and not self.run.scorer_ready(self.baseline)
            status = f"computing… ({note})" if slow else "computing…"
        else:
            status = "needs a dataset (not seed-classic)" if self.dataset is None else ""
        self.query_one("#explore-baseline-title", Static).update(
            escape(f"Baseline (b): {name}" + (f" · {status}" if status else ""))
        )
        fill_table(table, BASELINE_COLUMNS, baseline_rows(self._baseline_items))

    def _fill_history(self, history: list[dict]) -> None:
        table = self.query_one("#explore-history", DataTable)
        # A run without a dataset (seed-classic) has no logged history to show.
        table.display = self.dataset is not None
        self.query_one("#explore-history-title").display = self.dataset is not None
        fill_table(table, HISTORY_COLUMNS, history_rows(history))

    def action_switch_baseline(self) -> None:
        names = explore_data.baseline_names()
        position = names.index(self.baseline) if self.baseline in names else -1
        self.baseline = names[(position + 1) % len(names)]
        self._refetch_selected()

    def action_train(self) -> None:
        """Go to the Train pane and start training there (its own action)."""
        from rlrec.tui.panes.train import TrainPane  # the sibling pane, only when asked

        app = cast("RlrecApp", self.app)
        app.action_show_pane("train")
        for train in app.query(TrainPane):
            train.action_start()

    # -- why ---------------------------------------------------------------------------------
    @on(DataTable.RowSelected, "#explore-agent, #explore-baseline")
    def _item_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        items = (
            self._agent_items if event.data_table.id == "explore-agent" else self._baseline_items
        )
        if 0 <= event.cursor_row < len(items):
            label = "Q" if event.data_table.id == "explore-agent" else "score"
            self.show_why(items[event.cursor_row], label)

    def show_why(self, item: RecommendedItem, score_label: str = "score") -> None:
        """Open the why view for a recommended item of the selected user."""
        from rlrec.engine.usecases.serving import explain

        if self.dataset is None or self._selected is None:
            self.app.push_screen(
                WhyScreen(
                    None,
                    item,
                    "This run has no dataset: no user history or item features to explain with.",
                    score_label=score_label,
                )
            )
            return
        try:
            why = explain(self.dataset, self._selected, item.item_id)
        except RlrecError as exc:
            self.app.push_screen(WhyScreen(None, item, str(exc), score_label=score_label))
            return
        self.app.push_screen(WhyScreen(why.details, item, score_label=score_label))
