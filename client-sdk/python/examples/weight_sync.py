#!/usr/bin/python3
"""weight_sync: RL-style weight sync from one trainer to N workers.

The trainer updates a small torch model each step and pushes its state_dict
(only the chunks that changed travel); each worker applies every version in
place and reports version and digest; one worker is killed mid-run, comes
back, and catches up from the nodes.

  weight_sync.py demo [--workers 3] [--steps 20]     # everything on loopback
  weight_sync.py trainer --node HOST:PORT --group G [--steps 20] [--interval 0.2]
  weight_sync.py worker  --node HOST:PORT --group G --id W [--until VERSION]

``demo`` starts a controller and one node per process from build/bin
(canopy.local), runs the trainer and the workers as processes, SIGKILLs
worker 1 halfway and restarts it, then checks that every worker ends on the
trainer's last version with the trainer's digest. Each role prints one JSON
line per version.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

import torch

from canopy.torch import WeightPublisher, WeightReceiver


def make_model() -> torch.nn.Module:
    torch.manual_seed(0)  # the same architecture and start on every process
    return torch.nn.Sequential(
        torch.nn.Embedding(4096, 256),   # frozen: never changes, never re-sent
        torch.nn.Flatten(),
        torch.nn.Linear(256 * 8, 512), torch.nn.ReLU(),  # frozen too
        torch.nn.Linear(512, 16))        # the policy head being trained


def trainer(args) -> int:
    model = make_model()
    for frozen in (model[0], model[2]):  # a frozen backbone; the head learns
        frozen.requires_grad_(False)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    with WeightPublisher(args.node, args.group, "trainer") as pub:
        for step in range(1, args.steps + 1):
            obs = torch.randint(0, 4096, (32, 8))
            loss = model(obs).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            r = pub.push(model.state_dict())
            print(json.dumps({"role": "trainer", "version": int(r), "delta": r.delta,
                              "sent_bytes": r.sent_bytes, "bytes": r.bytes,
                              "seconds": round(r.seconds, 4), "digest": r.digest}), flush=True)
            time.sleep(args.interval)  # the rest of an RL step
    return 0


def worker(args) -> int:
    model = make_model()
    state = model.state_dict()
    with WeightReceiver(args.node, args.group) as rx:
        print(json.dumps({"role": "worker", "id": args.id, "joined": True}), flush=True)
        version = 0
        while version < args.until:
            got = rx.receive(into=state, timeout=60)
            version = int(got)
            with torch.no_grad():  # a rollout with the new policy
                model(torch.randint(0, 4096, (4, 8)))
            print(json.dumps({"role": "worker", "id": args.id, "version": version,
                              "delta": got.delta, "received_bytes": got.received_bytes,
                              "digest": got.digest}), flush=True)
    return 0


def demo(args) -> int:
    from canopy.local import Overlay
    here = os.path.abspath(__file__)
    with Overlay() as overlay:
        nodes = [overlay.start_node(f"n{i}") for i in range(args.workers + 1)]
        common = ["--group", "weights"]

        def spawn(*role):
            return subprocess.Popen([sys.executable, here, *role, *common],
                                    stdout=subprocess.PIPE, text=True)

        def worker_proc(i):
            p = spawn("worker", "--node", nodes[i].client, "--id", str(i),
                      "--until", str(args.steps))
            assert json.loads(p.stdout.readline())["joined"]
            return p

        workers = {i: worker_proc(i) for i in range(1, args.workers + 1)}
        train = spawn("trainer", "--node", nodes[0].client, "--steps", str(args.steps))
        digests = {}
        for line in train.stdout:
            r = json.loads(line)
            digests[r["version"]] = r["digest"]
            print(line, end="", flush=True)
            if r["version"] == args.steps // 2:
                workers[1].send_signal(signal.SIGKILL)
                workers[1].wait()
                print(json.dumps({"demo": "killed worker 1", "at_version": r["version"]}),
                      flush=True)
            if r["version"] == args.steps // 2 + 2:
                workers[1] = worker_proc(1)
                print(json.dumps({"demo": "restarted worker 1"}), flush=True)
        train.wait()
        ok = train.returncode == 0
        for i, p in workers.items():
            last = None
            for line in p.stdout:
                print(line, end="", flush=True)
                last = json.loads(line)
            p.wait(timeout=60)
            good = (p.returncode == 0 and last is not None and last["version"] == args.steps and
                    last["digest"] == digests[args.steps])
            ok = ok and good
            print(json.dumps({"demo": "worker result", "id": i, "ok": good}), flush=True)
        print(json.dumps({"demo": "done", "ok": ok, "version": args.steps,
                          "digest": digests.get(args.steps)}), flush=True)
        return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="role", required=True)
    d = sub.add_parser("demo")
    d.add_argument("--workers", type=int, default=3)
    d.add_argument("--steps", type=int, default=20)
    t = sub.add_parser("trainer")
    w = sub.add_parser("worker")
    for p in (t, w):
        p.add_argument("--node", required=True)
        p.add_argument("--group", required=True)
    t.add_argument("--steps", type=int, default=20)
    t.add_argument("--interval", type=float, default=0.2)
    w.add_argument("--id", default="0")
    w.add_argument("--until", type=int, default=2**62)
    args = ap.parse_args()
    return {"demo": demo, "trainer": trainer, "worker": worker}[args.role](args)


if __name__ == "__main__":
    sys.exit(main())
