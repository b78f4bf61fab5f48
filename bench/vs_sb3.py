"""rlrec's DQN against Stable-Baselines3's DQN on `seed-classic`, same wall-clock budget, one run.

    .venv/bin/python bench/vs_sb3.py [--seconds 60] [--eval-episodes 1000] [--seed 0] [--json]

Prints, for each: env steps per second *with learning*, and the greedy return over the same
1,000 evaluation sessions (normalised: 0 = random, 1 = myopic oracle); the speed ratio;
rlrec's time to a normalised score of 0.9; and the in-process latency of a top-10
recommendation for one user (p50 / p99).

Then both again at the same discount (`--gammas`, default 0.9 and 0): the preset's rlrec
uses γ = 0 (masked seed-classic is a contextual bandit) and SB3 its default γ = 0.99, so the
first two rows differ in γ as well as in code; the same-γ rows separate the two. A γ equal
to the preset's (rlrec) is the first row, not trained twice.

Fairness notes. Both use one torch thread (set by --threads). SB3 is `DQN("MlpPolicy")` with
net_arch [256, 256, 128] and its defaults otherwise, on `engine.make_env("seed-classic")`.
SB3's ε schedule is a fraction of `total_timesteps`, so that is set to what SB3 does in the
budget (the issue measured ~100k steps per 60 s here: `--sb3-rate` 1,700 steps/s); training
stops at the budget through a callback. SB3 knows nothing of engaged-item masks, so it is
evaluated greedily without one; rlrec masks engaged items (its default).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def train_rlrec(seconds: float, seed: int, threads: int, eval_every: int, overrides: dict) -> dict:
    from rlrec.engine.training.events import Evaluation
    from rlrec.engine.training.run_config import load_run_config
    from rlrec.engine.training.trainer import Trainer

    config = load_run_config(
        "seed-classic",
        overrides={
            **overrides,
            "train": {
                "seconds": seconds,
                "seed": seed,
                "torch_threads": threads,
                "eval_every": eval_every,
                "checkpoint_every": 0,
                "checkpoint_replay": False,
                **overrides.get("train", {}),
            },
        },
    )
    scratch = tempfile.TemporaryDirectory()
    trainer = Trainer(config, Path(scratch.name) / "run")
    curve: list[tuple[float, int, float]] = []

    def on_event(event) -> None:
        if isinstance(event, Evaluation):
            curve.append(
                (trainer._clock() - trainer.eval_seconds, event.env_steps, event.normalised)
            )

    trainer.subscribe(on_event)
    trainer.references()  # random / oracle returns: computed once, before the clock starts
    finished = trainer.run()
    report = trainer.evaluate()
    time_to_09 = next((t for t, _, score in curve if score >= 0.9), None)
    scratch.cleanup()
    return {
        "trainer": trainer,
        "env_steps": finished.env_steps,
        "updates": finished.updates,
        "seconds": finished.seconds - trainer.eval_seconds,
        "return_mean": report.return_mean,
        "normalised": report.normalised,
        "time_to_0.9": time_to_09,
        "curve": curve,
    }


class _StopAtDeadline:
    """SB3 callback factory (imported lazily with SB3)."""

    @staticmethod
    def make(seconds: float):
        from stable_baselines3.common.callbacks import BaseCallback

        class StopAtDeadline(BaseCallback):
            def _on_training_start(self) -> None:
                self.deadline = time.perf_counter() + seconds

            def _on_step(self) -> bool:
                return time.perf_counter() < self.deadline

        return StopAtDeadline()


def train_sb3(seconds: float, seed: int, sb3_rate: float, gamma: float | None = None) -> dict:
    """SB3's DQN on seed-classic for `seconds`; its own default γ (0.99) unless `gamma`."""
    from stable_baselines3 import DQN

    from rlrec import engine

    env = engine.make_env("seed-classic", seed=seed)
    settings = {} if gamma is None else {"gamma": gamma}
    model = DQN(
        "MlpPolicy",
        env,
        policy_kwargs={"net_arch": [256, 256, 128]},
        seed=seed,
        verbose=0,
        **settings,
    )
    began = time.perf_counter()
    model.learn(total_timesteps=int(seconds * sb3_rate), callback=_StopAtDeadline.make(seconds))
    elapsed = time.perf_counter() - began
    return {"model": model, "env_steps": int(model.num_timesteps), "seconds": elapsed}


class SB3GreedyPolicy:
    """SB3's Q-network behind rlrec's Policy calls, so both face the same evaluation sessions."""

    name = "sb3-dqn"

    def __init__(self, model) -> None:
        self.model = model
        self.n_items = model.action_space.n

    def act(self, obs, mask=None):
        import torch

        with torch.no_grad():
            q = self.model.q_net(torch.as_tensor(obs, dtype=torch.float32))
        return q.argmax(dim=1).numpy()

    def observe(self, *args) -> None:
        pass

    def begin_episodes(self) -> None:
        pass


def recommendation_latency(agent, sim, repeats: int = 2000, seed: int = 0) -> dict[str, float]:
    """Seconds for one user's top-10 (fresh session: observation, forward, top-k), in-process."""
    users = np.random.default_rng(seed).integers(0, sim.n_users, size=repeats)
    mask = np.zeros((1, sim.n_items), dtype=bool)
    for user in users[:50]:  # warm-up
        agent.top_k(sim.fresh_observation([user]), 10, mask)
    timings = np.empty(repeats)
    for i, user in enumerate(users):
        began = time.perf_counter()
        agent.top_k(sim.fresh_observation([user]), 10, mask)
        timings[i] = time.perf_counter() - began
    return {
        "p50_ms": float(np.percentile(timings, 50) * 1e3),
        "p99_ms": float(np.percentile(timings, 99) * 1e3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="wall-clock budget of each (default 60)"
    )
    parser.add_argument("--eval-episodes", type=int, default=1000)
    parser.add_argument(
        "--eval-every", type=int, default=50_000, help="rlrec env steps between evaluations"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both")
    parser.add_argument(
        "--sb3-rate", type=float, default=1700.0, help="SB3 steps/s, for its ε schedule"
    )
    parser.add_argument("--no-mask", action="store_true", help="also train rlrec with masking off")
    parser.add_argument("--skip-sb3", action="store_true")
    parser.add_argument(
        "--gammas",
        default="0.9,0",
        help="discounts at which both are also trained, comma-separated ('' for none; "
        "default 0.9,0)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from rlrec.engine.evaluation.online import (
        evaluate_policy,
        evaluation_simulator,
        reference_returns,
    )
    from rlrec.engine.sim import make_simulator
    from rlrec.engine.training.run_config import load_run_config

    torch.set_num_threads(args.threads)
    env_config = load_run_config("seed-classic").env
    eval_seed = load_run_config("seed-classic").train.eval_seed
    references = reference_returns(env_config, args.eval_episodes, eval_seed)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    log(f"rlrec: training {args.seconds:g} s …")
    ours = train_rlrec(args.seconds, args.seed, args.threads, args.eval_every, {})
    result = {
        "budget_seconds": args.seconds,
        "threads": args.threads,
        "references": {"random": references[0], "oracle": references[1]},
        "rlrec": {
            "env_steps": ours["env_steps"],
            "updates": ours["updates"],
            "steps_per_second": ours["env_steps"] / ours["seconds"],
            "return_mean": ours["return_mean"],
            "normalised": ours["normalised"],
            "time_to_0.9_seconds": ours["time_to_0.9"],
        },
    }
    one_user = make_simulator(env_config, n_envs=1, seed=0)
    result["rlrec"]["top10_latency"] = recommendation_latency(ours["trainer"].agent, one_user)
    if args.no_mask:
        log(f"rlrec, masking off: training {args.seconds:g} s …")
        unmasked = train_rlrec(
            args.seconds,
            args.seed,
            args.threads,
            args.eval_every,
            {"agent": {"mask_engaged": False}},
        )
        result["rlrec_no_mask"] = {
            "env_steps": unmasked["env_steps"],
            "steps_per_second": unmasked["env_steps"] / unmasked["seconds"],
            "return_mean": unmasked["return_mean"],
            "normalised": unmasked["normalised"],
        }

    def sb3_row(gamma: float | None) -> dict:
        log(f"SB3 DQN{'' if gamma is None else f', γ = {gamma:g}'}: training {args.seconds:g} s …")
        sb3 = train_sb3(args.seconds, args.seed, args.sb3_rate, gamma)
        sim = evaluation_simulator(env_config, args.eval_episodes, eval_seed)
        report = evaluate_policy(
            SB3GreedyPolicy(sb3["model"]), sim, args.eval_episodes, eval_seed, references=references
        )
        return {
            "gamma": float(sb3["model"].gamma),
            "env_steps": sb3["env_steps"],
            "steps_per_second": sb3["env_steps"] / sb3["seconds"],
            "return_mean": report.return_mean,
            "normalised": report.normalised,
        }

    preset_gamma = float(load_run_config("seed-classic").agent.gamma)
    result["rlrec"]["gamma"] = preset_gamma
    if not args.skip_sb3:
        result["sb3"] = sb3_row(None)
        result["speed_ratio"] = (
            result["rlrec"]["steps_per_second"] / result["sb3"]["steps_per_second"]
        )
    result["same_gamma"] = []
    for gamma in (float(g) for g in args.gammas.split(",") if g.strip()):
        pair: dict = {"gamma": gamma}
        if gamma == preset_gamma:
            pair["rlrec"] = {k: result["rlrec"][k] for k in _ROW_KEYS}
        else:
            log(f"rlrec, γ = {gamma:g}: training {args.seconds:g} s …")
            other = train_rlrec(
                args.seconds, args.seed, args.threads, args.eval_every, {"agent": {"gamma": gamma}}
            )
            pair["rlrec"] = {
                "env_steps": other["env_steps"],
                "steps_per_second": other["env_steps"] / other["seconds"],
                "return_mean": other["return_mean"],
                "normalised": other["normalised"],
            }
        if not args.skip_sb3:
            pair["sb3"] = sb3_row(gamma)
        result["same_gamma"].append(pair)
    if args.json:
        print(json.dumps(result))
    else:
        _print(result)
    return 0


_ROW_KEYS = ("env_steps", "steps_per_second", "return_mean", "normalised")


def _print(result: dict) -> None:
    def row(name: str, part: dict) -> str:
        return (
            f"{name:<18} {part['env_steps']:>10,} steps  {part['steps_per_second']:>10,.0f} steps/s  "
            f"return {part['return_mean']:.3f}  normalised {part['normalised']:.3f}"
        )

    ref = result["references"]
    print(
        f"seed-classic, {result['budget_seconds']:g} s each, {result['threads']} torch thread(s); "
        f"random {ref['random']:.3f}, oracle {ref['oracle']:.3f}"
    )
    print(row(f"rlrec DQN γ={result['rlrec']['gamma']:g}", result["rlrec"]))
    if "rlrec_no_mask" in result:
        print(row("rlrec (no mask)", result["rlrec_no_mask"]))
    if "sb3" in result:
        print(row(f"SB3 DQN γ={result['sb3']['gamma']:g}", result["sb3"]))
        print(f"speed ratio        {result['speed_ratio']:.1f}× (target ≥ 25×)")
    for pair in result["same_gamma"]:
        print(f"same γ = {pair['gamma']:g}:")
        print(row(f"  rlrec DQN γ={pair['gamma']:g}", pair["rlrec"]))
        if "sb3" in pair:
            print(row(f"  SB3 DQN γ={pair['gamma']:g}", pair["sb3"]))
    t09 = result["rlrec"]["time_to_0.9_seconds"]
    print(f"rlrec time to 0.9  {'not reached' if t09 is None else f'{t09:.1f} s'} (target ≤ 20 s)")
    lat = result["rlrec"]["top10_latency"]
    print(
        f"top-10 latency     p50 {lat['p50_ms']:.3f} ms, p99 {lat['p99_ms']:.3f} ms (target p99 ≤ 1 ms)"
    )


if __name__ == "__main__":
    sys.exit(main())
