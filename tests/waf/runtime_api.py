"""Test helper: a minimal Lambda Runtime API on loopback, so the real waf-sync
`bootstrap` runs as Lambda runs it. Serves the given events in order, prints
each response (or error) as one JSON line, and stops after the last one.
It also stands in for the pre-signed S3 URL a CloudFormation custom resource
answers to: a PUT to /cfn-response is printed as {"kind": "cfn", ...} with
its Content-Type, which must be empty as S3's signature requires.
It listens on a port the system picks, fills it in for {RUNTIME_PORT} in the
events, and prints {"kind": "ready", "port": N} first: no race for a port.
Usage: runtime_api.py EVENT_JSON [EVENT_JSON ...]"""
import http.server
import json
import sys
import threading

events = list(sys.argv[1:])
total = len(events)
done = []


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if not events:
            self.send_response(500)
            self.end_headers()
            return
        body = events.pop(0).encode()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{total - len(events)}")
        self.send_header("Lambda-Runtime-Deadline-Ms", "99999999999999")
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:waf-sync")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        print(json.dumps({"kind": "cfn", "path": self.path.split("?")[0],
                          "content_type": self.headers.get("Content-Type"), "body": json.loads(body)}), flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        kind = "error" if self.path.endswith("/error") else "response"
        print(json.dumps({"kind": kind, "body": json.loads(body) if body else None}), flush=True)
        self.send_response(202)
        self.end_headers()
        done.append(kind)
        if len(done) == total:
            threading.Thread(target=server.shutdown).start()


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
port = server.server_address[1]
events = [e.replace("{RUNTIME_PORT}", str(port)) for e in events]
print(json.dumps({"kind": "ready", "port": port}), flush=True)
server.serve_forever()
