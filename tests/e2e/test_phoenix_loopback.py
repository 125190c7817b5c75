"""The backend itself: every socket Phoenix opens is on loopback, checked from /proc."""

from __future__ import annotations

import ipaddress
import re

from .harness import Listener, PhoenixServer, decode_proc_address


def test_proc_addresses_decode() -> None:
    assert decode_proc_address("0100007F:1F90") == (ipaddress.ip_address("127.0.0.1"), 8080)
    mapped, port = decode_proc_address("0000000000000000FFFF00000100007F:10E1")
    assert (mapped, port) == (ipaddress.ip_address("::ffff:127.0.0.1"), 4321)
    assert Listener("tcp6", mapped, port).loopback
    assert not Listener("tcp6", ipaddress.ip_address("::"), 4317).loopback
    assert not Listener("tcp", ipaddress.ip_address("0.0.0.0"), 4317).loopback


def test_grpc_receiver_was_moved_to_loopback(phoenix: PhoenixServer) -> None:
    # The launcher logs each address it rewrote: Phoenix still asks for every
    # interface, and gets 127.0.0.1. No line means its call site moved.
    log = phoenix.log_path.read_text(errors="replace")
    rewrites = re.findall(r"phoenix_launcher: gRPC (\S+) -> (\S+)", log)
    assert rewrites == [(f"[::]:{phoenix.grpc_port}", f"127.0.0.1:{phoenix.grpc_port}")], log


def test_phoenix_listens_on_loopback_only(phoenix: PhoenixServer) -> None:
    # Checked at start-up by the fixture; again here, after agents have exported to it.
    found = phoenix.assert_loopback_only()
    assert all(listener.loopback for listener in found)
