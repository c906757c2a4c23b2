#!/usr/bin/env python3
"""A small key-value server for faultline's example system (examples/kv/kv.json).

The first node of --peers is the primary and holds the data (persisted to --data-dir before it
answers); every other node forwards each request to it. Protocol: one JSON object per line,
{"op": "read"|"write"|"cas"|"add"|"members", "key": K, "value": V} ->
{"ok": true, "value": ...} | {"ok": false} (cas mismatch) | {"error": "..."}.
{"op": "time"} is answered by the node itself (never forwarded): its wall clock in milliseconds
since the epoch, as the server reads it (a clock fault shows here).

--unsafe-cas plants a bug: cas compares, releases the lock, and writes a moment later, so a
concurrent write or cas between the two is lost (check-then-act). A campaign finds it.

--unsafe-no-fsync plants a durability bug: writes are acknowledged without fsync, so a power cut
(`--nemesis lose-unsynced` on the faulty filesystem) loses acknowledged data
(examples/kv/kv-unsafe-fsync.json).
"""
import argparse
import json
import os
import socket
import socketserver
import sys
import threading
import time

args = None
lock = threading.Lock()
data = {}


def persist():
    tmp = os.path.join(args.data_dir, "kv.json.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f)
        f.flush()
        # The planted durability bug (--unsafe-no-fsync): acknowledge before the data is durable.
        if not args.unsafe_no_fsync:
            os.fsync(f.fileno())
    os.replace(tmp, os.path.join(args.data_dir, "kv.json"))
    if not args.unsafe_no_fsync:
        d = os.open(args.data_dir, os.O_RDONLY)
        try:
            os.fsync(d)
        finally:
            os.close(d)


def apply(req):
    op, key, value = req.get("op"), str(req.get("key")), req.get("value")
    if op == "read":
        with lock:
            return {"ok": True, "value": data.get(key)}
    if op == "write":
        with lock:
            data[key] = value
            persist()
        return {"ok": True}
    if op == "cas":
        old, new = value
        if args.unsafe_cas:
            with lock:
                matches = data.get(key) == old
            if not matches:
                return {"ok": False}
            time.sleep(0.02)  # the planted bug: the compare no longer holds here
            with lock:
                data[key] = new
                persist()
            return {"ok": True}
        with lock:
            if data.get(key) != old:
                return {"ok": False}
            data[key] = new
            persist()
        return {"ok": True}
    if op == "add":
        with lock:
            members = data.setdefault(key, [])
            if value not in members:
                members.append(value)
            persist()
        return {"ok": True}
    if op == "members":
        with lock:
            return {"ok": True, "value": list(data.get(key, []))}
    return {"error": "unknown op %r" % op}


def forward(line):
    host, port = args.peers.split(",")[0].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=2) as s:
        s.sendall(line)
        reply = s.makefile("rb").readline()
    if not reply:
        raise ConnectionError("primary closed the connection")
    return json.loads(reply)


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            try:
                req = json.loads(line)
                if isinstance(req, dict) and req.get("op") == "time":
                    reply = {"ok": True, "value": int(time.time() * 1000)}
                elif args.primary:
                    reply = apply(req)
                else:
                    reply = forward(line)
            except Exception as e:  # noqa: BLE001 - every failure is an answer
                reply = {"error": "%s: %s" % (type(e).__name__, e)}
            self.wfile.write((json.dumps(reply) + "\n").encode())
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    global args, data
    p = argparse.ArgumentParser()
    p.add_argument("--node", required=True)
    p.add_argument("--listen", required=True)
    p.add_argument("--peers", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--unsafe-cas", action="store_true")
    p.add_argument("--unsafe-no-fsync", action="store_true")
    args = p.parse_args()
    args.primary = args.peers.split(",")[0] == args.listen
    path = os.path.join(args.data_dir, "kv.json")
    if os.path.exists(path):
        with open(path) as f:
            try:
                data = json.load(f)
            except ValueError as e:
                # What a crash left of an unsynced file: start empty, as a buggy store would.
                print("kv %s: %s unreadable (%s): starting empty" % (args.node, path, e),
                      file=sys.stderr, flush=True)
    host, port = args.listen.rsplit(":", 1)
    server = Server((host, int(port)), Handler)
    print("kv %s listening on %s (%s)%s" % (args.node, args.listen,
          "primary" if args.primary else "forwards to " + args.peers.split(",")[0],
          (", unsafe cas" if args.unsafe_cas else "") +
          (", unsafe no fsync" if args.unsafe_no_fsync else "")), file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
