"""Publisher, Subscriber, objects and errors against a real overlay."""

import mmap
import os
import threading

import numpy as np
import pytest

import canopy


def test_messages_arrive_in_order_with_source_and_sequence(overlay, group):
    sub = canopy.Subscriber(overlay.nodes["n2"].client, group)
    with canopy.Publisher(overlay.nodes["n1"].client, group, "talker") as pub:
        for i in range(5):
            pub.send(b"m%d" % i)
    got = [sub.next(timeout=30) for _ in range(5)]
    assert [m.payload for m in got] == [b"m%d" % i for i in range(5)]
    assert [m.sequence for m in got] == [1, 2, 3, 4, 5]
    assert {m.source for m in got} == {"talker"}
    sub.close()
    assert list(sub) == []  # a closed subscription ends the iteration


def test_errors_carry_code_and_message(overlay, group):
    with pytest.raises(canopy.InvalidArgument) as e:
        canopy.Publisher(overlay.nodes["n1"].client, "bad group!", "s")
    assert e.value.code == "INVALID_ARGUMENT" and "group" in e.value.message
    overlay.canopyctl("policy", "set", group, "--allow", "someone-else")
    with pytest.raises(canopy.PermissionDenied) as e:
        canopy.Publisher(overlay.nodes["n1"].client, group, "intruder")
    assert isinstance(e.value, canopy.Error) and e.value.message


def test_receive_timeout_is_deadline_exceeded(overlay, group):
    sub = canopy.Subscriber(overlay.nodes["n1"].client, group)
    with pytest.raises(canopy.DeadlineExceeded):
        sub.next(timeout=0.2)


@pytest.mark.parametrize("kind", ["bytearray", "numpy", "mmap", "tensor"])
def test_receive_into_any_writable_buffer(overlay, group, kind, tmp_path):
    data = os.urandom(3 * 65536 + 123)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    sub = canopy.Subscriber(overlay.nodes["n3"].client, group)
    rx = canopy.ObjectReceiver(sub)
    with canopy.Publisher(overlay.nodes["n1"].client, group, "sender") as pub:
        sent = canopy.send_file(pub, path, chunk_bytes=65536)
    if kind == "bytearray":
        buf = bytearray(len(data) + 10)
    elif kind == "numpy":
        buf = np.zeros(len(data), dtype=np.uint8)
    elif kind == "mmap":
        buf = mmap.mmap(-1, len(data))
    else:
        torch = pytest.importorskip("torch")
        buf = torch.zeros(len(data), dtype=torch.uint8)
    chunks, progress = [], []
    got = rx.receive_into(buf, timeout=30, on_chunk=lambda o, b: chunks.append((o, len(b))),
                          on_progress=lambda done, total: progress.append((done, total)))
    assert got.sha256 == sent.sha256 and got.name == "blob.bin" and got.source == "sender"
    view = bytes(memoryview(buf.numpy() if kind == "tensor" else buf).cast("B")[:len(data)])
    assert view == data
    assert sum(n for _, n in chunks) == len(data) and progress[-1] == (len(data), len(data))


def test_read_only_or_too_small_buffer_is_a_clear_error(overlay, group):
    sub = canopy.Subscriber(overlay.nodes["n2"].client, group)
    rx = canopy.ObjectReceiver(sub)
    with pytest.raises(canopy.InvalidArgument, match="read-only"):
        rx.receive_into(bytes(100), timeout=1)
    with canopy.Publisher(overlay.nodes["n1"].client, group, "sender") as pub:
        canopy.send_object(pub, "big", os.urandom(50000), chunk_bytes=4096)
    with pytest.raises(canopy.FailedPrecondition, match="50000 bytes; the buffer holds 1000"):
        rx.receive_into(bytearray(1000), timeout=30)


def test_send_object_waits_for_receivers(overlay, group):
    subs = [canopy.Subscriber(overlay.nodes[n].client, group, member=f"rx-{n}")
            for n in ("n2", "n3")]
    got = []
    threads = [threading.Thread(target=lambda s=s: got.append(
        canopy.ObjectReceiver(s).receive(timeout=30))) for s in subs]
    for t in threads:
        t.start()
    data = os.urandom(5 * 4096 + 7)
    with canopy.Publisher(overlay.nodes["n1"].client, group, "sender") as pub:
        sent = canopy.send_object(pub, "acked", data, chunk_bytes=4096, wait_for=2, timeout=30)
        for t in threads:
            t.join()
        assert sent.receivers == 2 and len(got) == 2
        # Nobody receives the next one: the wait names both, after its timeout.
        with pytest.raises(canopy.DeadlineExceeded) as e:
            canopy.send_object(pub, "unread", data, chunk_bytes=4096, wait_for=2, timeout=1)
        assert "0 of 2 receivers hold" in str(e.value)
        assert "rx-n2@n2" in str(e.value) and "rx-n3@n3" in str(e.value)
    for s in subs:
        s.close()


def test_versions_of_a_blob_patch_in_place(overlay, group):
    with canopy.VersionPublisher(overlay.nodes["n1"].client, group, "blob", chunk_bytes=4096) as pub:
        sub = canopy.Subscriber(overlay.nodes["n2"].client, group)
        rx = canopy.VersionReceiver(sub)
        data = bytearray(os.urandom(40000))
        first = pub.push(data)
        buf = bytearray(40000)
        got = rx.receive_into(buf, timeout=30)
        assert (got.version, got.sha256, bytes(buf)) == (1, first.sha256, bytes(data))
        data[5000:5010] = b"x" * 10
        second = pub.push(data)
        assert second.delta and second.chunks_sent == 1
        got = rx.receive_into(buf, timeout=30)
        assert got.delta and got.version == 2 and bytes(buf) == bytes(data)
        assert rx.held.version == 2
