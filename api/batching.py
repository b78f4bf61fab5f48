"""Recommend requests that arrive together, answered by one engine call.

Requests that reach the endpoint in the same turn of the event loop, for the same served
run, k, policy and cold-start choice, are ranked by one `recommend_for_users` call: their
states go through the policy as one batch, which costs little more than one user (the
per-call overhead of a small forward pass dominates a single top-K). Nothing waits for a
batch to fill: the call runs as soon as the loop has taken every request that was ready,
so a lone request is answered as fast as before and a busy server answers many per pass.
Each answer is what the engine gives that user alone (`recommend_for_users`' contract).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from rlrec.data.errors import RlrecError
from rlrec.engine.usecases.serving import Recommendation, recommend_many


@dataclass
class _Batch:
    run: Any  # the loaded ServingRun
    users: list[str] = field(default_factory=list)
    answers: list[asyncio.Future[Recommendation]] = field(default_factory=list)


class RecommendBatcher:
    """Collects the users asked about in one loop turn and ranks them together. One per
    app; used from the event loop only (not thread-safe, it needs no lock)."""

    def __init__(self) -> None:
        self._open: dict[tuple[int, int, str, bool], _Batch] = {}
        # Sizes of the batches ranked so far (batch size → count), for `rlrec serve`'s
        # health answer and the benchmark.
        self.sizes: dict[int, int] = {}

    async def recommend(
        self, run: Any, user: str, k: int, policy: str, cold_start: bool
    ) -> Recommendation:
        """`user`'s top-`k` of `policy` from `run`, ranked with the others asked for now.
        RlrecError: as `recommend_for_user` (bad k or policy, an unknown user)."""
        loop = asyncio.get_running_loop()
        key = (id(run), k, policy, cold_start)
        batch = self._open.get(key)
        if batch is None:
            batch = self._open[key] = _Batch(run)
            loop.call_soon(self._rank, key)
        answer: asyncio.Future[Recommendation] = loop.create_future()
        batch.users.append(user)
        batch.answers.append(answer)
        return await answer

    def _rank(self, key: tuple[int, int, str, bool]) -> None:
        batch = self._open.pop(key)
        _, k, policy, cold_start = key
        self.sizes[len(batch.users)] = self.sizes.get(len(batch.users), 0) + 1
        try:
            results: list[Recommendation | RlrecError] = recommend_many(
                batch.run, batch.users, k, policy, cold_start=cold_start
            )
        except Exception as exc:  # the whole call was refused (bad k, policy): everyone's
            results = [exc] * len(batch.users)  # type: ignore[list-item]
        for answer, result in zip(batch.answers, results, strict=True):
            if answer.done():  # the client went away and its request was cancelled
                continue
            if isinstance(result, BaseException):
                answer.set_exception(result)
            else:
                answer.set_result(result)
