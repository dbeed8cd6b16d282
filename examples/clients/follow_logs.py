# Follow a run's output with only the Python standard library, over Server-Sent Events.
# python3 follow_logs.py <run_id> [after]    (FLOTILLA_URL defaults to http://localhost:5000)
import json, os, sys, urllib.request

base = os.environ.get("FLOTILLA_URL", "http://localhost:5000")
query = "subscription ($runId: ID!, $after: String) { runLogs(runId: $runId, after: $after) { stream text cursor } }"
variables = {"runId": sys.argv[1], "after": sys.argv[2] if len(sys.argv) > 2 else None}
request = urllib.request.Request(
    base + "/graphql",
    data=json.dumps({"query": query, "variables": variables}).encode(),
    headers={"Content-Type": "application/json", "Accept": "text/event-stream"},
)
with urllib.request.urlopen(request) as response:
    for raw in response:
        line = raw.decode("utf-8").rstrip("\n")
        if not line.startswith("data:") or not line[5:].strip():
            continue
        payload = json.loads(line[5:])
        if "errors" in payload:
            raise SystemExit([(e.get("extensions", {}).get("code"), e["message"]) for e in payload["errors"]])
        chunk = payload["data"]["runLogs"]
        (sys.stderr if chunk["stream"] == "STDERR" else sys.stdout).write(chunk["text"])
        # chunk["cursor"] is where to resume: pass it as `after` after a dropped connection.
