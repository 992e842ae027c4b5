#!/usr/bin/python3
"""param_broadcast: send a real .safetensors checkpoint; workers load it.

  param_broadcast.py demo [--workers 3]                 # everything on loopback
  param_broadcast.py send FILE.safetensors --node HOST:PORT --group G [--source ID]
  param_broadcast.py worker --node HOST:PORT --group G

``send`` pushes the file as it is on disk (mapped, not copied; its header is
the tensor table). Each ``worker`` builds the model, receives the checkpoint
straight into ``model.state_dict()`` (checked tensor by tensor before any
byte is written), and prints one JSON line with the version and digest.
``demo`` writes a checkpoint of the model with save_safetensors, starts a
controller and nodes (canopy.local), runs the workers and the sender as
processes and checks that every worker's weights equal the file's.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import torch

from canopy.torch import WeightPublisher, WeightReceiver, load_safetensors, save_safetensors


class Net(torch.nn.Module):
    """A small transformer-ish model: embedding, two blocks, a head."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(8192, 256)
        self.blocks = torch.nn.ModuleList(
            torch.nn.TransformerEncoderLayer(256, 4, 1024, batch_first=True) for _ in range(2))
        self.norm = torch.nn.LayerNorm(256)
        self.head = torch.nn.Linear(256, 8192, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)
        for b in self.blocks:
            x = b(x)
        return self.head(self.norm(x))


def send(args) -> int:
    with WeightPublisher(args.node, args.group, args.source) as pub:
        r = pub.push_file(args.file)
    print(json.dumps({"role": "sender", "version": int(r), "bytes": r.bytes,
                      "seconds": round(r.seconds, 3), "digest": r.digest}), flush=True)
    return 0


def worker(args) -> int:
    model = Net()
    with WeightReceiver(args.node, args.group) as rx:
        print(json.dumps({"role": "worker", "joined": True}), flush=True)
        got = rx.receive(into=model.state_dict(), timeout=args.timeout)
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 4, dtype=torch.long))
    print(json.dumps({"role": "worker", "version": int(got), "bytes": got.received_bytes,
                      "seconds": round(got.seconds, 3), "digest": got.digest}), flush=True)
    if args.check:
        want = load_safetensors(args.check)
        same = all(torch.equal(want[k], v) for k, v in model.state_dict().items())
        print(json.dumps({"role": "worker", "matches_file": same}), flush=True)
        return 0 if same else 1
    return 0


def demo(args) -> int:
    from canopy.local import Overlay
    here = os.path.abspath(__file__)
    with tempfile.TemporaryDirectory() as tmp, Overlay() as overlay:
        path = os.path.join(tmp, "checkpoint.safetensors")
        torch.manual_seed(42)
        save_safetensors(Net().state_dict(), path)
        with open(path, "rb") as f:
            file_digest = hashlib.sha256(f.read()).hexdigest()
        nodes = [overlay.start_node(f"n{i}") for i in range(args.workers + 1)]
        workers = []
        for n in nodes[1:]:
            p = subprocess.Popen([sys.executable, here, "worker", "--node", n.client, "--group",
                                  "ckpt", "--check", path], stdout=subprocess.PIPE, text=True)
            assert json.loads(p.stdout.readline())["joined"]
            workers.append(p)
        sender = subprocess.run([sys.executable, here, "send", path, "--node", nodes[0].client,
                                 "--group", "ckpt"], capture_output=True, text=True)
        print(sender.stdout, end="", file=sys.stdout)
        ok = sender.returncode == 0
        for p in workers:
            out = p.stdout.read()
            print(out, end="")
            ok = ok and p.wait(timeout=60) == 0 and file_digest in out
        print(json.dumps({"demo": "done", "ok": ok, "file_sha256": file_digest}))
        return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="role", required=True)
    d = sub.add_parser("demo")
    d.add_argument("--workers", type=int, default=3)
    s = sub.add_parser("send")
    s.add_argument("file")
    s.add_argument("--source", default=f"sender-{os.getpid()}")
    w = sub.add_parser("worker")
    w.add_argument("--timeout", type=float, default=300)
    w.add_argument("--check", help="compare the received weights with this file")
    for p in (s, w):
        p.add_argument("--node", required=True)
        p.add_argument("--group", required=True)
    args = ap.parse_args()
    return {"demo": demo, "send": send, "worker": worker}[args.role](args)


if __name__ == "__main__":
    sys.exit(main())
