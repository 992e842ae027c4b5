"""canopy.torch: state_dicts pushed to workers through a real overlay."""

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

torch = pytest.importorskip("torch")

import canopy  # noqa: E402
from canopy.torch import StateDictMismatch, WeightPublisher, WeightReceiver  # noqa: E402

from canopy.local import WAIT, poll  # noqa: E402

CHUNK = 64 << 10


def make_state(seed: int = 0, scale: int = 1):
    g = torch.Generator().manual_seed(seed)
    sd = {f"layer{i}.weight": torch.randn(64 * scale, 256, generator=g) for i in range(20)}
    sd["embed.weight"] = torch.randn(100, 33, generator=g).to(torch.bfloat16)
    sd["steps"] = torch.tensor(seed, dtype=torch.int64)
    sd["mask"] = torch.rand(77, generator=g) > 0.5
    sd["empty"] = torch.zeros(0, 4)
    return sd


def zeros_like(sd):
    return {k: torch.zeros_like(v) for k, v in sd.items()}


def same_bits(a, b):
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and
        bytes(a[k].reshape(-1).view(torch.uint8).numpy()) ==
        bytes(b[k].reshape(-1).view(torch.uint8).numpy()) for k in a)


def digest(sd):
    """SHA-256 of a state_dict laid out as push sends it."""
    import tempfile
    from canopy.torch import save_safetensors
    with tempfile.NamedTemporaryFile() as f:
        save_safetensors(sd, f.name, chunk_bytes=CHUNK)
        return hashlib.sha256(open(f.name, "rb").read()).hexdigest()


def receive_in_threads(receivers, intos, timeout=WAIT):
    results, errors = [None] * len(receivers), []

    def run(i):
        try:
            results[i] = receivers[i].receive(into=intos[i], timeout=timeout)
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(receivers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_bit_exact_into_preallocated_tensors_at_three_workers(overlay, group):
    sd = make_state(1)
    workers = [WeightReceiver(overlay.nodes[f"n{i}"].client, group) for i in (1, 2, 3)]
    models = [zeros_like(sd) for _ in workers]
    pointers = [{k: t.data_ptr() for k, t in m.items()} for m in models]
    with WeightPublisher(overlay.nodes["n1"].client, group, "trainer", chunk_bytes=CHUNK) as pub:
        pushed = pub.push(sd)
        got = receive_in_threads(workers, models)
    assert pushed == 1 and not pushed.delta and pushed.digest == digest(sd)
    for m, p, r in zip(models, pointers, got):
        assert r == 1 and r.digest == pushed.digest
        assert same_bits(m, sd)
        assert {k: t.data_ptr() for k, t in m.items()} == p  # written in place


def test_on_tensor_sees_each_tensor_once_verified(overlay, group):
    sd = make_state(2)
    worker = WeightReceiver(overlay.nodes["n2"].client, group)
    into = zeros_like(sd)
    seen = {}

    def on_tensor(name, t):
        seen[name] = bytes(t.reshape(-1).view(torch.uint8).numpy())
    with WeightPublisher(overlay.nodes["n1"].client, group, "trainer", chunk_bytes=CHUNK) as pub:
        pub.push(sd)
        worker.receive(into=into, on_tensor=on_tensor, timeout=WAIT)
    assert set(seen) == set(sd)
    for k, v in sd.items():
        assert seen[k] == bytes(v.reshape(-1).view(torch.uint8).numpy())


def test_into_none_returns_new_tensors(overlay, group):
    sd = make_state(3)
    worker = WeightReceiver(overlay.nodes["n3"].client, group)
    with WeightPublisher(overlay.nodes["n1"].client, group, "trainer", chunk_bytes=CHUNK) as pub:
        pub.push(sd)
        got = worker.receive(timeout=WAIT)
        assert same_bits(dict(got.tensors), sd)
        sd["layer3.weight"][0, 0] += 1
        pub.push(sd)
        second = worker.receive(timeout=WAIT)
    assert second.delta and same_bits(dict(second.tensors), sd)
    assert not same_bits(dict(got.tensors), sd)  # the first result was not changed


def test_delta_moves_only_changed_bytes(overlay, group):
    sd = make_state(4, scale=2)  # 20 tensors of 128 KiB
    node = overlay.nodes["n2"]
    worker = WeightReceiver(node.client, group)
    into = zeros_like(sd)
    with WeightPublisher(overlay.nodes["n1"].client, group, "trainer", chunk_bytes=CHUNK) as pub:
        full = pub.push(sd)
        worker.receive(into=into, timeout=WAIT)
        before = node.metric("canopy_node_received_bytes_total", f'group="{group}"')
        sd["layer7.weight"].mul_(0.5)  # 1 of 20 big tensors: 5 %
        delta = pub.push(sd)
        got = worker.receive(into=into, timeout=WAIT)
        after = poll(lambda: (lambda v: v if v - before >= delta.sent_bytes else None)(
            node.metric("canopy_node_received_bytes_total", f'group="{group}"')),
            "the delta's bytes at the worker's node")
    changed = sd["layer7.weight"].numel() * 4
    assert delta.delta and got.delta and same_bits(into, sd)
    assert changed <= delta.sent_bytes <= changed + 2 * CHUNK
    moved = after - before
    # The chunks that changed plus the version record, object headers and
    # announcements; nowhere near the whole state_dict.
    assert moved <= delta.sent_bytes + 32 * 1024, (moved, delta.sent_bytes)
    assert moved < 0.1 * full.bytes


def test_late_joiner_and_restarted_worker_get_latest_whole(overlay, group):
    sd = make_state(5)
    early = WeightReceiver(overlay.nodes["n2"].client, group)
    early_model = zeros_like(sd)
    with WeightPublisher(overlay.nodes["n1"].client, group, "trainer", chunk_bytes=CHUNK) as pub:
        pub.push(sd)
        assert early.receive(into=early_model, timeout=WAIT) == 1
        early.close()  # the worker goes away ("restart")
        for step in range(3):
            sd["layer1.weight"][step] += 1.0
            assert pub.push(sd).delta
        latest = digest(sd)
        late = WeightReceiver(overlay.nodes["n3"].client, group)
        late_model = zeros_like(sd)
        got = late.receive(into=late_model, timeout=WAIT)
        assert got == 4 and got.digest == latest and same_bits(late_model, sd)
        restarted = WeightReceiver(overlay.nodes["n2"].client, group)
        got = restarted.receive(into=early_model, timeout=WAIT)
        assert got == 4 and same_bits(early_model, sd)


def test_mismatched_state_dict_raises_and_leaves_model_untouched(overlay, group):
    sd = make_state(6)
    worker = WeightReceiver(overlay.nodes["n2"].client, group)
    model = zeros_like(sd)
    model["layer2.weight"] = torch.full((64, 255), 7.0)  # a shape that differs
    model["extra.bias"] = torch.ones(3)
    before = {k: v.clone() for k, v in model.items()}
    with WeightPublisher(overlay.nodes["n1"].client, group, "trainer", chunk_bytes=CHUNK) as pub:
        pub.push(sd)
        with pytest.raises(StateDictMismatch) as e:
            worker.receive(into=model, timeout=WAIT)
    text = str(e.value)
    assert "layer2.weight: shape [64, 255]" in text and "extra.bias" in text
    assert isinstance(e.value, canopy.InvalidArgument)
    assert same_bits(model, before)


def push_while_receiving(pub, sd, workers, **push_args):
    """Pushes ``sd`` while ``workers`` receive it in threads; returns the
    push's result (or raises its error) once the workers are done."""
    intos = [zeros_like(sd) for _ in workers]
    got = {}
    receiving = threading.Thread(target=lambda: got.update(r=receive_in_threads(workers, intos)))
    receiving.start()
    try:
        return pub.push(sd, **push_args)
    finally:
        receiving.join()
        assert all(same_bits(m, sd) for m in intos)


def test_wait_for_returns_once_every_worker_holds_the_version(overlay, group):
    workers = [WeightReceiver(overlay.nodes[f"n{i}"].client, group, member=f"w{i}")
               for i in (1, 2, 3)]
    with WeightPublisher(overlay.nodes["n1"].client, group, "trainer", chunk_bytes=CHUNK) as pub:
        pushed = push_while_receiving(pub, make_state(7), workers, wait_for=3, timeout=WAIT)
        assert pushed == 1 and pushed.receivers == 3
        # A delta is acknowledged like a whole version.
        sd = make_state(7)
        sd["layer4.weight"][1, 2] += 1
        pushed = push_while_receiving(pub, sd, workers, wait_for=3, timeout=WAIT)
        assert pushed == 2 and pushed.delta and pushed.receivers == 3
    for w in workers:
        w.close()


def test_wait_for_times_out_naming_the_worker_that_left(overlay, group):
    workers = [WeightReceiver(overlay.nodes[f"n{i}"].client, group, member=f"w{i}")
               for i in (1, 2, 3)]
    with WeightPublisher(overlay.nodes["n1"].client, group, "trainer", chunk_bytes=CHUNK) as pub:
        assert push_while_receiving(pub, make_state(8), workers, wait_for=3,
                                    timeout=WAIT).receivers == 3
        workers[2].close()
        start = time.monotonic()
        # Long enough for every node's summary to arrive on a busy machine:
        # only the departed worker may be missing.
        with pytest.raises(canopy.DeadlineExceeded) as e:
            push_while_receiving(pub, make_state(9), workers[:2], wait_for=3, timeout=10)
        assert time.monotonic() - start < 10 + 5
        text = str(e.value)
        assert "2 of 3 receivers hold" in text and "w3@n3" in text, text
        assert "w1@" not in text and "w2@" not in text, text
        assert isinstance(e.value, TimeoutError)
        assert pub.version == 2  # pushed all the same
    for w in workers[:2]:
        w.close()


def test_wait_for_on_a_group_without_workers_says_so(overlay, group):
    with WeightPublisher(overlay.nodes["n1"].client, group, "trainer", chunk_bytes=CHUNK) as pub:
        with pytest.raises(canopy.DeadlineExceeded, match="0 of 1 receivers hold"):
            pub.push(make_state(10), wait_for=1, timeout=1)


CHILD = r"""
import sys, time
sys.path[:0] = [{path!r}]
from canopy.torch import WeightReceiver
w = WeightReceiver({node!r}, {group!r})
try:
    print("receiving", flush=True)  # the parent's SIGINT may land before receive() blocks
    w.receive(timeout=None)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
"""


def test_ctrl_c_during_receive_raises_keyboard_interrupt(overlay, group):
    script = CHILD.format(path=os.environ.get("PYTHONPATH", ""),
                          node=overlay.nodes["n2"].client, group=group)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "receiving"
        # Blocked in receive(): its main thread sleeps (waits without the GIL).
        poll(lambda: open(f"/proc/{child.pid}/stat").read().rsplit(")", 1)[1].split()[0] == "S",
             "the child to block in receive()")
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        assert child.stdout.readline().strip() == "interrupted"
        assert time.monotonic() - sent < 1.0  # KeyboardInterrupt raised within a second
        assert child.wait(timeout=WAIT) == 3
    finally:
        child.kill()


def test_two_trainers_on_one_group_never_mix(overlay, group):
    # Each round both trainers push at once (their objects interleave on the
    # group), then each worker receives: whatever it holds must be exactly
    # one version one trainer pushed.
    states = {"trainer-a": make_state(10), "trainer-b": make_state(20)}
    pubs = {"trainer-a": WeightPublisher(overlay.nodes["n1"].client, group, "trainer-a",
                                         chunk_bytes=CHUNK),
            "trainer-b": WeightPublisher(overlay.nodes["n3"].client, group, "trainer-b",
                                         chunk_bytes=CHUNK)}
    digests = {}

    def push(source, step):
        states[source][f"layer{step}.weight"].add_(1.0)
        r = pubs[source].push(states[source])
        digests[r.digest] = (source, int(r))

    workers = [WeightReceiver(overlay.nodes[n].client, group) for n in ("n2", "n3")]
    models = [zeros_like(make_state(0)) for _ in workers]
    try:
        for step in range(5):
            trainers = [threading.Thread(target=push, args=(s, step)) for s in pubs]
            for t in trainers:
                t.start()
            for t in trainers:
                t.join()
            for m, r in zip(models, receive_in_threads(workers, models)):
                assert digest(m) == r.digest
                assert r.digest in digests, "a worker's model is no version any trainer pushed"
    finally:
        for p in pubs.values():
            p.close()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (Debian's torch is CPU-only)")
def test_cuda_tensors_receive_through_bounded_staging(overlay, group):
    sd = make_state(8)
    worker = WeightReceiver(overlay.nodes["n2"].client, group, staging_bytes=1 << 16)
    model = {k: v.cuda() for k, v in zeros_like(sd).items()}
    with WeightPublisher(overlay.nodes["n1"].client, group, "trainer", chunk_bytes=CHUNK) as pub:
        pub.push(sd)
        worker.receive(into=model, timeout=WAIT)
    assert same_bits({k: v.cpu() for k, v in model.items()}, sd)
