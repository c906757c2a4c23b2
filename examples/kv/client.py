#!/usr/bin/env python3
"""faultline's exec client for the example kv server (examples/kv/server.py).

Reads faultline's ops as JSON lines on stdin, answers one JSON line each on stdout. Classifies
as every faultline client must: ok if the op took effect, fail only if it certainly did not,
info if unknown (a timeout or a lost connection after the request was sent).
"""
import json
import os
import socket
import sys

ADDRESS = os.environ["FAULTLINE_ADDRESS"]
PORT = int(os.environ["FAULTLINE_PORT"])
conn = None
reader = None


def call(req):
    global conn, reader
    if conn is None:
        conn = socket.create_connection((ADDRESS, PORT), timeout=0.8)
        reader = conn.makefile("rb")
    conn.sendall((json.dumps(req) + "\n").encode())
    line = reader.readline()
    if not line:
        raise ConnectionError("server closed the connection")
    return json.loads(line)


def reset():
    global conn, reader
    if conn is not None:
        conn.close()
    conn = reader = None


def answer(op):
    f, key, value = op["f"], op["key"], op["value"]
    if op["workload"] == "set":
        req = {"op": "add" if f == "add" else "members", "key": key, "value": value}
    else:
        req = {"op": f, "key": key, "value": value}
    try:
        reply = call(req)
    except (ConnectionRefusedError, socket.gaierror) as e:
        reset()
        return {"type": "fail", "error": "not sent: %s" % e}  # nothing reached the server
    except OSError as e:
        reset()
        # Sent, or maybe sent: unknown. Reads change nothing, so they may fail.
        return {"type": "fail" if f == "read" else "info", "error": str(e)}
    if "error" in reply:
        return {"type": "fail" if f == "read" else "info", "error": reply["error"]}
    if not reply.get("ok"):
        return {"type": "fail", "error": "cas mismatch"}
    return {"type": "ok", "value": reply.get("value")}


for line in sys.stdin:
    op = json.loads(line)
    out = answer(op)
    out["id"] = op["id"]
    if out["type"] == "info":
        print(json.dumps(out), flush=True)
        sys.exit(0)  # faultline starts a new client after info
    print(json.dumps(out), flush=True)
