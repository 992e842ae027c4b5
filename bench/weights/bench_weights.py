#!/usr/bin/python3
"""The parts of bench-weights that run Python (see bench-weights.sh).

  bench_weights.py run --lab LAB --tag TAG --bin DIR --work DIR --n N --mib M --mbit R
                       [--changed-pct P] [--skip-gloo]
  bench_weights.py trainer|worker|gloo|loopback ...   (started by `run`)

`run` drives one measurement in a lab that bench-weights.sh brought up
(hosts l1h1 .. l1h(N+2)): a controller and one canopy-node per host; the
trainer on host 1 pushes a state_dict of M MiB (float32 tensors of 2 MiB)
to N workers on hosts 2..N+1 through canopy.torch, then a delta with P % of
the tensors changed; a late joiner on host N+2 then fetches the latest
version. Then torch.distributed.broadcast (gloo) of the same bytes from
host 1 to hosts 2..N+1, and, on host 1's loopback, the Python SDK against
the C++ SDK (canopy-send / canopy-recv) on the same file. Prints one line
per figure and, last, one JSON object.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.abspath(__file__)
TENSOR_MIB = 2


def addr(h: int) -> str:
    return f"10.77.1.{10 + h}"


def rss_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def emit(**kv) -> None:
    print(json.dumps(kv), flush=True)


def layout(mib: int):
    """Tensor names and element counts: float32 tensors of TENSOR_MIB."""
    count = max(1, mib // TENSOR_MIB)
    return {f"layer{i:03d}.weight": (mib << 20) // count // 4 for i in range(count)}


# ---- roles started inside the lab -----------------------------------------

def trainer(a) -> int:
    import torch
    from canopy.torch import WeightPublisher
    g = torch.Generator().manual_seed(1)
    sd = {name: torch.rand(n, generator=g) for name, n in layout(a.mib).items()}
    with WeightPublisher(a.node, a.group, "trainer", max_chain_bytes=0) as pub:
        emit(ready=True)
        for line in sys.stdin:  # one "go" per version
            if line.strip() != "go":
                break
            if pub.version:
                names = sorted(sd)
                for name in names[:max(1, round(len(names) * a.changed_pct / 100))]:
                    sd[name].add_(1.0)
            start = time.time()
            r = pub.push(sd)
            emit(version=int(r), start_unix=start, seconds=r.seconds, delta=r.delta,
                 sent_bytes=r.sent_bytes, bytes=r.bytes, digest=r.digest)
    return 0


def worker(a) -> int:
    import torch
    from canopy.torch import WeightReceiver
    with WeightReceiver(a.node, a.group) as rx:
        base = rss_mib("VmRSS")
        sd = {name: torch.empty(n) for name, n in layout(a.mib).items()}
        joined = time.time()
        emit(joined=True, joined_unix=joined)
        for _ in range(a.versions):
            got = rx.receive(into=sd, timeout=3600)
            emit(version=int(got), done_unix=time.time(), digest=got.digest,
                 received_bytes=got.received_bytes)
        emit(base_rss_mib=base, peak_rss_mib=rss_mib("VmHWM"))
    return 0


def gloo(a) -> int:
    import torch
    import torch.distributed as dist
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "eth0")  # the lab link, not the hostname's
    dist.init_process_group("gloo", init_method=f"tcp://{a.master}", rank=a.rank,
                            world_size=a.world)
    flat = torch.rand((a.mib << 20) // 4) if a.rank == 0 else torch.empty((a.mib << 20) // 4)
    dist.barrier()
    start = time.time()
    dist.broadcast(flat, src=0)
    dist.barrier()
    if a.rank == 0:
        emit(gloo_s=time.time() - start)
    dist.destroy_process_group()
    return 0


def py_receive(a) -> int:
    import numpy as np
    import canopy
    sub = canopy.Subscriber(a.node, a.group)
    rx = canopy.ObjectReceiver(sub)
    buf = np.empty(a.mib << 20, dtype=np.uint8)
    emit(joined=True)
    got = rx.receive_into(buf, timeout=600)
    emit(seconds=got.seconds, sha256=got.sha256)
    return 0


def loopback(a) -> int:
    """Python SDK against C++ SDK on this namespace's loopback, same file."""
    import canopy
    from canopy.local import Overlay, bin_path
    with tempfile.TemporaryDirectory(dir="/dev/shm") as shm, Overlay() as o:
        src, dst = o.start_node("src", replay_mib=a.mib * 2), o.start_node("dst",
                                                                           replay_mib=a.mib * 2)
        path = os.path.join(shm, "blob.bin")
        with open(path, "wb") as f:
            f.write(os.urandom(a.mib << 20))
        best = {"cpp": math.inf, "python": math.inf}
        for rep in range(a.reps):
            group = f"loop{rep}"
            out = os.path.join(shm, f"out{rep}")
            os.mkdir(out)
            recv = subprocess.Popen([bin_path("canopy-recv"), "--node", dst.client, "--group",
                                     group + "c", "--out", out], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            while "joined" not in recv.stderr.readline():
                pass
            subprocess.run([bin_path("canopy-send"), path, "--node", src.client, "--group",
                            group + "c"], check=True, capture_output=True)
            best["cpp"] = min(best["cpp"], json.loads(recv.communicate(timeout=600)[0])["seconds"])
            os.unlink(os.path.join(out, "blob.bin"))
            rx = subprocess.Popen([sys.executable, HERE, "py-receive", "--node", dst.client,
                                   "--group", group + "p", "--mib", str(a.mib)],
                                  stdout=subprocess.PIPE, text=True)
            assert json.loads(rx.stdout.readline())["joined"]
            with canopy.Publisher(src.client, group + "p", "py-sender") as pub:
                canopy.send_file(pub, path)
            best["python"] = min(best["python"], json.loads(rx.stdout.readline())["seconds"])
            rx.wait(timeout=60)
        emit(loopback_cpp_s=best["cpp"], loopback_python_s=best["python"])
    return 0


# ---- the orchestrator -------------------------------------------------------

class Lab:
    def __init__(self, a) -> None:
        self.a, self.procs = a, []

    def start(self, host: int, argv, log: str, stdin=False) -> subprocess.Popen:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        p = subprocess.Popen([self.a.lab, "exec", self.a.tag, f"l1h{host}", "--", *argv],
                             stdout=subprocess.PIPE, stderr=open(os.path.join(self.a.work, log), "w"),
                             stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, text=True,
                             env=env)
        self.procs.append(p)
        return p

    def py(self, host: int, role: str, *args: str, log: str, stdin=False) -> subprocess.Popen:
        return self.start(host, [sys.executable, HERE, role, *args], log, stdin)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = []


def read_until(p: subprocess.Popen, found, what: str, timeout: float):
    """The first stdout line of ``p`` for which ``found(line)`` is not None
    (its value); exits the benchmark naming ``what`` at the deadline."""
    result = []

    def read():
        for line in p.stdout:
            value = found(line)
            if value is not None:
                result.append(value)
                return
    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout)
    if not result:
        raise SystemExit(f"bench-weights: nothing from {what} in time (see its log)")
    return result[0]


def line_with(p: subprocess.Popen, key: str, what: str, timeout: float = 600) -> dict:
    """The next JSON line of ``p`` that has ``key``."""
    def found(line):
        try:
            d = json.loads(line)
        except json.JSONDecodeError:
            return None
        return d if key in d else None
    return read_until(p, found, f"{what} ('{key}')", timeout)


def line_with_text(p: subprocess.Popen, text: str, timeout: float = 60) -> str:
    """The next stdout line of ``p`` that contains ``text``."""
    return read_until(p, lambda line: line if text in line else None, p.args[4], timeout)


def run(a) -> int:
    n, mib, mbit = a.n, a.mib, a.mbit
    lab = Lab(a)
    bin_ = lambda name: os.path.join(a.bin, name)  # noqa: E731
    ctl = f"{addr(1)}:7000"
    replay = max(64, 3 * mib)
    try:
        c = lab.start(1, [bin_("canopy-controller"), "--plaintext", "--listen", ctl, "--store",
                          os.path.join(a.work, "ctl.db"), "--metrics-listen", "127.0.0.1:0"],
                      "controller.log")
        line_with_text(c, "listening")
        nodes = {}
        for h in range(1, n + 3):
            nodes[h] = lab.start(h, [bin_("canopy-node"), "--plaintext", "--id", f"h{h}",
                                     "--controller", ctl, "--listen", f"{addr(h)}:7001", "--data",
                                     f"{addr(h)}:7002", "--upload-bps", str(mbit * 1_000_000),
                                     "--replay-mib", str(replay), "--metrics-listen",
                                     "127.0.0.1:0"], f"node-{h}.log")
        for h, p in nodes.items():
            line_with_text(p, "listening")
        subprocess.run([a.lab, "exec", a.tag, "l1h1", "--", bin_("canopyctl"), "--controller", ctl,
                        "policy", "set", "weights", "--profile", "bulk"], check=True,
                       capture_output=True)
        common = ["--group", "weights", "--mib", str(mib)]
        workers = [lab.py(h, "worker", "--node", f"{addr(h)}:7001", "--versions", "2", *common,
                          log=f"worker-{h}.log") for h in range(2, n + 2)]
        for w in workers:
            line_with(w, "joined", "a worker")
        trainer = lab.py(1, "trainer", "--node", f"{addr(1)}:7001", "--changed-pct",
                         str(a.changed_pct), *common, log="trainer.log", stdin=True)
        line_with(trainer, "ready", "the trainer")
        figures = {}
        for name in ("full", "delta"):
            trainer.stdin.write("go\n")
            trainer.stdin.flush()
            pushed = line_with(trainer, "version", "the trainer")
            done = [line_with(w, "done_unix", "a worker") for w in workers]
            if any(d["digest"] != pushed["digest"] for d in done):
                raise SystemExit("bench-weights: a worker's digest differs from the trainer's")
            figures[name] = (max(d["done_unix"] for d in done) - pushed["start_unix"], pushed)
        mem = [line_with(w, "peak_rss_mib", "a worker") for w in workers]
        late = lab.py(n + 2, "worker", "--node", f"{addr(n + 2)}:7001", "--versions", "1",
                      *common, log="late.log")
        joined = line_with(late, "joined", "the late joiner")
        got = line_with(late, "done_unix", "the late joiner")
        if got["digest"] != figures["delta"][1]["digest"]:
            raise SystemExit("bench-weights: the late joiner's digest differs")
        late_s = got["done_unix"] - joined["joined_unix"]
        trainer.stdin.close()
        lab.stop()

        gloo_s = None
        if not a.skip_gloo:
            ranks = [lab.py(h, "gloo", "--rank", str(h - 1), "--world", str(n + 1), "--master",
                            f"{addr(1)}:29500", "--mib", str(mib), log=f"gloo-{h}.log")
                     for h in range(1, n + 2)]
            gloo_s = line_with(ranks[0], "gloo_s", "gloo rank 0")["gloo_s"]
            for p in ranks:
                p.wait(timeout=600)
            lab.procs = []
        loop = lab.py(1, "loopback", "--mib", str(a.loopback_mib), "--reps", "2",
                      log="loopback.log")
        lo = line_with(loop, "loopback_cpp_s", "the loopback run")
        loop.wait(timeout=60)
    finally:
        lab.stop()

    bits = (mib << 20) * 8
    u = mbit * 1e6
    bound = max(bits / u, bits / u, n * bits / (u + n * u))
    full_s, full = figures["full"]
    delta_s, delta = figures["delta"]
    peak_over = max(m["peak_rss_mib"] - m["base_rss_mib"] for m in mem) - mib
    out = {
        "n": n, "model_mib": mib, "link_mbit": mbit, "bound_s": round(bound, 3),
        "canopy_full_s": round(full_s, 3), "ratio_to_bound": round(full_s / bound, 3),
        "gloo_s": None if gloo_s is None else round(gloo_s, 3),
        "speedup_vs_gloo": None if gloo_s is None else round(gloo_s / full_s, 2),
        "gloo_ratio_to_bound": None if gloo_s is None else round(gloo_s / bound, 2),
        "delta_changed_pct": a.changed_pct, "delta_sent_mib": round(delta["sent_bytes"] / 2**20, 2),
        "canopy_delta_s": round(delta_s, 3), "delta_to_full": round(delta_s / full_s, 3),
        "late_joiner_s": round(late_s, 3),
        "loopback_mib": a.loopback_mib,
        "loopback_python_mbit_s": round(a.loopback_mib * 8.388608 / lo["loopback_python_s"], 1),
        "loopback_cpp_mbit_s": round(a.loopback_mib * 8.388608 / lo["loopback_cpp_s"], 1),
        "python_to_cpp": round(lo["loopback_cpp_s"] / lo["loopback_python_s"], 3),
        "worker_peak_rss_mib": round(max(m["peak_rss_mib"] for m in mem), 1),
        "worker_peak_over_model_mib": round(peak_over, 1),
        "digest": delta["digest"],
    }
    print(f"N={n} {mib} MiB at {mbit} Mbit/s: canopy {out['canopy_full_s']} s, bound "
          f"{out['bound_s']} s (x{out['ratio_to_bound']}), gloo broadcast {out['gloo_s']} s "
          f"(canopy {out['speedup_vs_gloo']}x faster)")
    print(f"delta ({a.changed_pct}% of tensors, {out['delta_sent_mib']} MiB sent): "
          f"{out['canopy_delta_s']} s = x{out['delta_to_full']} of the full push; late joiner "
          f"{out['late_joiner_s']} s to a complete model")
    print(f"loopback {a.loopback_mib} MiB: Python SDK {out['loopback_python_mbit_s']} Mbit/s, "
          f"C++ SDK {out['loopback_cpp_mbit_s']} Mbit/s (x{out['python_to_cpp']}); worker peak RSS "
          f"{out['worker_peak_rss_mib']} MiB, {out['worker_peak_over_model_mib']} MiB over the "
          f"model beyond what the worker had before allocating it")
    print(json.dumps(out))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    for flag in ("--lab", "--tag", "--bin", "--work"):
        r.add_argument(flag, required=True)
    r.add_argument("--n", type=int, default=8)
    r.add_argument("--mib", type=int, default=256)
    r.add_argument("--mbit", type=int, default=200)
    r.add_argument("--changed-pct", type=float, default=5)
    r.add_argument("--loopback-mib", type=int, default=256)
    r.add_argument("--skip-gloo", action="store_true")
    t = sub.add_parser("trainer")
    w = sub.add_parser("worker")
    for p in (t, w):
        p.add_argument("--node", required=True)
        p.add_argument("--group", required=True)
        p.add_argument("--mib", type=int, required=True)
    t.add_argument("--changed-pct", type=float, default=5)
    w.add_argument("--versions", type=int, default=1)
    g = sub.add_parser("gloo")
    g.add_argument("--rank", type=int, required=True)
    g.add_argument("--world", type=int, required=True)
    g.add_argument("--master", required=True)
    g.add_argument("--mib", type=int, required=True)
    pr = sub.add_parser("py-receive")
    pr.add_argument("--node", required=True)
    pr.add_argument("--group", required=True)
    pr.add_argument("--mib", type=int, required=True)
    lo = sub.add_parser("loopback")
    lo.add_argument("--mib", type=int, required=True)
    lo.add_argument("--reps", type=int, default=2)
    a = ap.parse_args()
    return {"run": run, "trainer": trainer, "worker": worker, "gloo": gloo,
            "py-receive": py_receive, "loopback": loopback}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
