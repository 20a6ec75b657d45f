#!/usr/bin/env python3
"""delivery_receiver.py — an HTTP receiver on 127.0.0.1 for fsmml's delivery tests and bench.

Logs one JSON line per request (arrival time, path, webhook-id, signature check, the answer
given, the body) to --log, flushed at once.  Answers 200 unless --plan says otherwise for the
first requests: a comma-separated list of  ok | 500 | 429:SECONDS | hang:SECONDS.
  --secret whsec_...   verify webhook-signature (Standard Webhooks) on every request
  --telegram           answer like the Bot API (429 as {"ok":false,"parameters":{"retry_after":N}})
  --ollama MODEL       answer like Ollama's /api/generate
  --redirect URL       answer 302 to URL
  --quiet              log only id and time
  --fast               asyncio keep-alive server answering 200 at once; logs id, time and the
                       body's "timestamp" (bench/delivery.sh: the receiver must not be the limit)
The chosen port is written to --port-file once listening."""
import argparse, base64, hashlib, hmac, json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--port-file")
ap.add_argument("--log", required=True)
ap.add_argument("--secret")
ap.add_argument("--plan", default="")
ap.add_argument("--telegram", action="store_true")
ap.add_argument("--ollama")
ap.add_argument("--redirect")
ap.add_argument("--quiet", action="store_true")
ap.add_argument("--fast", action="store_true")
args = ap.parse_args()

plan = [p for p in args.plan.split(",") if p]
lock = threading.Lock()
log = open(args.log, "a", buffering=1)
key = None
if args.secret:
    key = base64.b64decode(args.secret[6:]) if args.secret.startswith("whsec_") else args.secret.encode()


def verify(msg_id, ts, body, sig_header):
    if key is None:
        return None
    mac = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    return any(s == "v1," + mac for s in (sig_header or "").split())


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body go out as two writes

    def log_message(self, *a):
        pass

    def answer(self, code, obj=None, headers=()):
        data = json.dumps(obj if obj is not None else {"ok": code < 300}).encode()
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:      # the client gave up (its timeout): nothing to answer
            pass

    def do_POST(self):
        t = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            step = plan.pop(0) if plan else "ok"
        msg_id = self.headers.get("webhook-id")
        if args.quiet:
            log.write(json.dumps({"t": t, "id": msg_id}) + "\n")
        else:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            log.write(json.dumps({"t": t, "path": self.path, "id": msg_id, "answer": step,
                                  "sig_ok": verify(msg_id, self.headers.get("webhook-timestamp"), body,
                                                   self.headers.get("webhook-signature")),
                                  "body": parsed}) + "\n")
        if args.redirect:
            return self.answer(302, headers=[("Location", args.redirect)])
        if step.startswith("hang:"):
            time.sleep(float(step[5:]))
            return self.answer(200)
        if step == "500":
            return self.answer(500, {"error": "planned failure"})
        if step.startswith("429:"):
            n = int(step[4:])
            if args.telegram:
                return self.answer(429, {"ok": False, "error_code": 429,
                                         "description": f"Too Many Requests: retry after {n}",
                                         "parameters": {"retry_after": n}})
            return self.answer(429, headers=[("Retry-After", str(n))])
        if args.telegram:
            return self.answer(200, {"ok": True, "result": {"message_id": 1}})
        if args.ollama:
            return self.answer(200, {"model": args.ollama, "created_at": "2024-01-01T00:00:00Z",
                                     "response": "AGREE: the agents point the same way.", "done": True})
        return self.answer(200)


def write_port(port):
    import os
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.replace(args.port_file + ".tmp", args.port_file)


if args.fast:
    import asyncio, re
    TS = re.compile(rb'"timestamp": "([^"]+)"}$')

    async def serve(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                n, msg_id = 0, None
                for line in head.split(b"\r\n"):
                    k, _, v = line.partition(b":")
                    k = k.lower()
                    if k == b"content-length":
                        n = int(v)
                    elif k == b"webhook-id":
                        msg_id = v.strip().decode()
                body = await reader.readexactly(n)
                t = time.time()
                m = TS.search(body)
                log.write('{"t": %.6f, "id": "%s", "ts": "%s"}\n' % (t, msg_id, m.group(1).decode() if m else ""))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main():
        srv = await asyncio.start_server(serve, args.host, args.port)
        write_port(srv.sockets[0].getsockname()[1])
        await srv.serve_forever()

    asyncio.run(main())
    sys.exit(0)

srv = ThreadingHTTPServer((args.host, args.port), H)
srv.daemon_threads = True
write_port(srv.server_address[1])
srv.serve_forever()
