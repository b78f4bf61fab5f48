"""Learning curves: training seconds → normalised return, rlrec's DQN and Stable-Baselines3's.

    .venv/bin/python bench/learning.py [--seconds 60] [--seeds 0,1,2]
        [--presets default,seed-classic] [--eval-every 10] [--agents rlrec,sb3]
        [--threads 1] [--set agent.n_step=3 ...] [--json]

For each preset, seed and agent: trains for `--seconds` of wall-clock training time and
evaluates the greedy policy every `--eval-every` seconds of it (and at 30/60/120/300/600 s)
on the same fixed evaluation sessions the trainer uses (`train.eval_episodes` sessions from
`train.eval_seed`). The score is `PolicyReport.normalised` as `rlrec train` reports it:
0 = the uniform-random policy, 1 = the myopic oracle. Evaluations run off the training
clock (`Trainer.off_the_clock()`; for SB3 the deadline moves by the evaluation's time).

Prints, per preset and agent, the median over seeds of the time to the oracle (the first
evaluation with normalised ≥ 1.0) and the normalised return at 30/60/120/300/600 s (the
marks within the budget), then every seed's curve. On presets whose simulator has session
dynamics (`default`) it also prints the farsighted heuristic's return on the same sessions
and the end's median return as a multiple of it. `--json` prints one JSON document.

Fairness. SB3 is `DQN("MlpPolicy")` with the preset's hidden widths and ReLU (rlrec's
activation), the preset's γ, one torch thread like rlrec (`--threads`), SB3's defaults
otherwise, on the Gymnasium wrapper (`engine.make_env(preset)`). SB3's DQN cannot mask
actions while learning; its greedy evaluation gets the same engaged-item mask rlrec's does.
SB3's ε schedule is a fraction of `total_timesteps`, set to what SB3 does in the budget
(`--sb3-rate` steps/s, as in bench/vs_sb3.py).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MARKS = (30.0, 60.0, 120.0, 300.0, 600.0)


def evaluation_times(seconds: float, every: float) -> list[float]:
    """Training-clock seconds at which to evaluate: multiples of `every` and the marks."""
    times = {round(every * k, 6) for k in range(1, int(seconds / every) + 1)}
    times |= {m for m in MARKS if m <= seconds}
    return sorted(t for t in times if t < seconds)  # the end gets its own evaluation


class ClockEvaluation:
    """A trainer callback: a greedy evaluation at each of `times` (training seconds), run
    off the training clock; records (seconds, env steps, normalised, return)."""

    def __init__(self, times: list[float]) -> None:
        self.pending = list(times)
        self.curve: list[dict[str, float]] = []

    def on_step(self, trainer: Any) -> bool:
        if self.pending and trainer.clock() >= self.pending[0]:
            while self.pending and trainer.clock() >= self.pending[0]:
                self.pending.pop(0)
            seconds = trainer.clock()
            with trainer.off_the_clock():
                self.record(seconds, trainer.env_steps, trainer.evaluate())
        return False

    def on_end(self, trainer: Any, reason: Any) -> None:
        pass

    def record(self, seconds: float, env_steps: int, report: Any) -> None:
        self.curve.append(
            {
                "seconds": round(seconds, 2),
                "env_steps": int(env_steps),
                "normalised": float(report.normalised),
                "return_mean": float(report.return_mean),
            }
        )


def farsighted_return(trainer: Any) -> dict[str, float]:
    """{"farsighted": its mean return} on the trainer's evaluation sessions, for presets whose
    simulator has the session dynamics the farsighted heuristic reads; else {}."""
    from rlrec.engine.evaluation.online import evaluate_policy
    from rlrec.engine.policies.registry import baselines_for, build_for_simulation

    sim, train = trainer.evaluation_sim(), trainer.config.train
    if "farsighted" not in baselines_for(sim):
        return {}
    policy = build_for_simulation("farsighted", sim, train.eval_seed)
    report = evaluate_policy(policy, sim, train.eval_episodes, train.eval_seed)
    return {"farsighted": float(report.return_mean)}


def train_rlrec(
    preset: str, seconds: float, seed: int, every: float, threads: int, overrides: dict
) -> dict[str, Any]:
    """Train rlrec's DQN on `preset` for `seconds`; its curve and the trainer (whose
    evaluation simulator and references SB3 then shares)."""
    from rlrec.engine.training.run_config import load_run_config
    from rlrec.engine.training.trainer import Trainer

    train = {
        "seconds": seconds,
        "seed": seed,
        "torch_threads": threads,
        "eval_every": 0,
        "checkpoint_every": 0,
        "checkpoint_replay": False,
        **overrides.get("train", {}),
    }
    config = load_run_config(preset, overrides={**overrides, "train": train})
    evaluations = ClockEvaluation(evaluation_times(seconds, every))
    with tempfile.TemporaryDirectory() as scratch:
        trainer = Trainer(config, Path(scratch) / "run", callbacks=[evaluations])
        trainer.references()  # random / oracle returns: computed before the clock starts
        trainer.evaluation_sim()
        finished = trainer.run()
        final = trainer.last_evaluation  # the end's evaluation, clock already stopped
        if final is not None:
            evaluations.curve.append(
                {
                    "seconds": round(finished.seconds, 2),
                    "env_steps": int(finished.env_steps),
                    "normalised": float(final.normalised),
                    "return_mean": float(final.return_mean),
                }
            )
    return {
        "trainer": trainer,
        "env_steps": finished.env_steps,
        "updates": finished.updates,
        "curve": evaluations.curve,
    }


class MaskedSB3Policy:
    """SB3's Q-network behind rlrec's Policy calls, greedy, with engaged items masked."""

    name = "sb3-dqn"

    def __init__(self, model: Any) -> None:
        self.model = model
        self.n_items = model.action_space.n

    def act(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        import torch

        with torch.no_grad():
            q = self.model.q_net(torch.as_tensor(obs, dtype=torch.float32))
        if mask is not None:
            q = q.masked_fill(torch.as_tensor(np.asarray(mask, dtype=bool)), -math.inf)
        return q.argmax(dim=1).numpy()

    def observe(self, *args: Any) -> None:
        pass

    def begin_episodes(self) -> None:
        pass


def train_sb3(
    preset: str,
    seconds: float,
    seed: int,
    every: float,
    sb3_rate: float,
    evaluate: Any,
) -> dict[str, Any]:
    """Train SB3's DQN on `preset` for `seconds` of training time; `evaluate(policy)` → a
    PolicyReport on rlrec's evaluation sessions, called off the clock."""
    import torch
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    from rlrec import engine
    from rlrec.engine.training.run_config import load_run_config

    agent = load_run_config(preset).agent
    env = engine.make_env(preset, seed=seed)
    model = DQN(
        "MlpPolicy",
        env,
        gamma=agent.gamma,
        policy_kwargs={"net_arch": list(agent.hidden), "activation_fn": torch.nn.ReLU},
        seed=seed,
        verbose=0,
    )
    evaluations = ClockEvaluation(evaluation_times(seconds, every))
    policy = MaskedSB3Policy(model)

    class ClockedTraining(BaseCallback):
        def _on_training_start(self) -> None:
            self.started = time.perf_counter()
            self.off_clock = 0.0

        def clock(self) -> float:
            return time.perf_counter() - self.started - self.off_clock

        def _on_step(self) -> bool:
            pending = evaluations.pending
            if pending and self.clock() >= pending[0]:
                while pending and self.clock() >= pending[0]:
                    pending.pop(0)
                began = time.perf_counter()
                evaluations.record(self.clock(), self.num_timesteps, evaluate(policy))
                self.off_clock += time.perf_counter() - began
            return self.clock() < seconds

    callback = ClockedTraining()
    model.learn(total_timesteps=int(seconds * sb3_rate), callback=callback)
    evaluations.record(callback.clock(), model.num_timesteps, evaluate(policy))
    return {"env_steps": int(model.num_timesteps), "curve": evaluations.curve}


def summarise(curves: list[list[dict[str, float]]], seconds: float) -> dict[str, Any]:
    """Median over seeds of the time to the oracle (None where a seed never got there: the
    median then counts it as never) and of the normalised return at each mark."""

    def at(curve: list[dict[str, float]], mark: float) -> float:
        reached = [p for p in curve if p["seconds"] >= mark - 1e-6]
        return reached[0]["normalised"] if reached else curve[-1]["normalised"]

    def to_oracle(curve: list[dict[str, float]]) -> float:
        return next((p["seconds"] for p in curve if p["normalised"] >= 1.0), math.inf)

    times = [to_oracle(c) for c in curves]
    median_time = statistics.median(times)
    marks = [m for m in MARKS if m <= seconds]
    return {
        "time_to_oracle_seconds": None if math.isinf(median_time) else median_time,
        "time_to_oracle_each": [None if math.isinf(t) else t for t in times],
        "normalised_at": {f"{m:g}": statistics.median([at(c, m) for c in curves]) for m in marks},
        "final_normalised": statistics.median([c[-1]["normalised"] for c in curves]),
        "final_return": statistics.median([c[-1]["return_mean"] for c in curves]),
    }


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`agent.n_step=3` → {"agent": {"n_step": 3}} (values parsed as YAML scalars)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        out.setdefault(section, {})[name] = yaml.safe_load(value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="training seconds per run")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds")
    parser.add_argument("--presets", default="default,seed-classic")
    parser.add_argument("--agents", default="rlrec,sb3", help="rlrec, sb3 or both")
    parser.add_argument(
        "--eval-every", type=float, default=10.0, help="training seconds between evaluations"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both")
    parser.add_argument(
        "--sb3-rate", type=float, default=1700.0, help="SB3 steps/s, for its ε schedule"
    )
    parser.add_argument(
        "--set", action="append", default=[], help="rlrec override, e.g. agent.n_step=3"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    agents = args.agents.split(",")
    overrides = parse_overrides(args.set)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    result: dict[str, Any] = {
        "seconds": args.seconds,
        "threads": args.threads,
        "eval_every": args.eval_every,
        "overrides": overrides,
        "presets": {},
    }
    for preset in args.presets.split(","):
        runs: dict[str, list[dict[str, Any]]] = {agent: [] for agent in agents}
        references: dict[str, float] = {}
        for seed in seeds:
            # rlrec runs first even when only SB3 is asked for: its trainer holds the
            # evaluation sessions and references both are scored on.
            log(f"{preset} seed {seed}: rlrec …")
            ours = train_rlrec(
                preset,
                args.seconds if "rlrec" in agents else 0.01,
                seed,
                args.eval_every,
                args.threads,
                overrides,
            )
            trainer = ours.pop("trainer")
            references = {**trainer.references(), **farsighted_return(trainer)}
            if "rlrec" in agents:
                runs["rlrec"].append(ours)
                log(f"  {_curve_line(ours['curve'])}")
            if "sb3" in agents:
                from rlrec.engine.evaluation.online import evaluate_policy

                train = trainer.config.train
                refs = (references["random"], references["oracle"])

                def evaluate(
                    policy: Any, trainer: Any = trainer, train: Any = train, refs: Any = refs
                ) -> Any:
                    return evaluate_policy(
                        policy,
                        trainer.evaluation_sim(),
                        train.eval_episodes,
                        train.eval_seed,
                        references=refs,
                    )

                log(f"{preset} seed {seed}: SB3 …")
                theirs = train_sb3(
                    preset, args.seconds, seed, args.eval_every, args.sb3_rate, evaluate
                )
                torch.set_num_threads(args.threads)
                runs["sb3"].append(theirs)
                log(f"  {_curve_line(theirs['curve'])}")
        result["presets"][preset] = {
            "references": references,
            **{
                agent: {
                    **summarise([r["curve"] for r in agent_runs], args.seconds),
                    "runs": {str(s): r for s, r in zip(seeds, agent_runs, strict=True)},
                }
                for agent, agent_runs in runs.items()
            },
        }
    if args.json:
        print(json.dumps(result))
    else:
        _print(result, agents)
    return 0


def _curve_line(curve: list[dict[str, float]]) -> str:
    return "  ".join(
        f"{p['seconds']:.0f}s/{p['env_steps'] / 1000:.0f}k:{p['normalised']:.2f}" for p in curve
    )


def _print(result: dict[str, Any], agents: list[str]) -> None:
    print(
        f"{result['seconds']:g} s of training per run, {result['threads']} torch thread(s), "
        f"evaluations every {result['eval_every']:g} s (off the clock); "
        f"normalised: 0 = random, 1 = myopic oracle; medians over seeds"
    )
    if result["overrides"]:
        print(f"rlrec overrides: {result['overrides']}")
    for preset, part in result["presets"].items():
        ref = part["references"]
        farsighted = ref.get("farsighted")
        far = "" if farsighted is None else f", farsighted heuristic {farsighted:.3f}"
        print(f"\n{preset}: random {ref['random']:.3f}, oracle {ref['oracle']:.3f}{far}")
        for agent in agents:
            s = part[agent]
            t = s["time_to_oracle_seconds"]
            marks = "  ".join(f"{m} s {v:.3f}" for m, v in s["normalised_at"].items())
            ratio = ""
            if farsighted is not None and s["final_return"] is not None:
                ratio = f" (return {s['final_return']:.2f} = {s['final_return'] / farsighted:.3f}× farsighted)"
            print(
                f"  {agent:<6} time to oracle {'never' if t is None else f'{t:.1f} s':>8}  "
                f"{marks}  end {s['final_normalised']:.3f}{ratio}"
            )
            for seed, run in s["runs"].items():
                print(f"    seed {seed}: {run['env_steps']:,} steps  {_curve_line(run['curve'])}")


if __name__ == "__main__":
    sys.exit(main())
