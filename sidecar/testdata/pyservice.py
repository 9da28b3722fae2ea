#!/usr/bin/env python3
"""A service written in Python (standard library only) that joins a microsim
system through the sidecar.

Usage: pyservice.py SIDECAR_URL [GREETER_SERVICE]

It registers the service "py-shouter" with one endpoint, Py.Shout:
{"text": s} -> {"shout": ..., "caller": ...}, where the shout is the reply of
the Go service GREETER_SERVICE ("greeter" by default; its endpoint hello,
called back through the sidecar),
upper-cased. It re-registers every few seconds (its heartbeat), prints
"ready" once registered, and deregisters and prints "bye" when its standard
input closes.
"""
import json
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SIDECAR = sys.argv[1].rstrip("/")
GREETER = sys.argv[2] if len(sys.argv) > 2 else "greeter"


def post(path, body):
    req = urllib.request.Request(SIDECAR + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as rsp:
        return json.loads(rsp.read())


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(n) or b"null") or {}
        except ValueError as e:
            return self.reply(400, {"code": "bad_request", "detail": "invalid JSON: %s" % e})
        if self.path != "/Py.Shout":
            return self.reply(404, {"code": "not_found", "detail": "no endpoint " + self.path})
        try:
            hello = post("/%s/hello" % GREETER, {"name": req.get("text", "")})
        except urllib.error.HTTPError as e:
            return self.reply(502, {"code": "interrupted", "detail": "greeter: %s" % e.read().decode()})
        self.reply(200, {"shout": hello["message"].upper(), "caller": self.headers.get("X-User", "")})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    registration = {"name": "py-shouter", "version": "py-1", "url": "http://127.0.0.1:%d" % srv.server_address[1],
                    "endpoints": ["Py.Shout"], "metadata": {"lang": "python"}, "ttl": "15s"}
    post("/register", registration)
    stop = threading.Event()

    def heartbeat():
        while not stop.wait(5):
            post("/register", registration)

    threading.Thread(target=heartbeat, daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()
    stop.set()
    post("/deregister", {"name": "py-shouter"})
    srv.shutdown()
    print("bye", flush=True)


if __name__ == "__main__":
    main()
