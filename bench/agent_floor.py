"""The floor of ``agent_roundtrip.py``: a minimal hand-written client, one case per run.

Each case does the work the matching ``comfycine`` command does, with the fewest
imports and steps: the same HTTP requests (and for a job, the same socket and
download), the same ledger read, the same template file read, then one JSON line on
stdout. It parses ``sys.argv`` by hand: argparse alone costs a few milliseconds.

    python bench/agent_floor.py ledger DB JOB            # status --json / wait --json
    python bench/agent_floor.py detach URL GRAPH.json    # generate --detach --json
    python bench/agent_floor.py detach-async URL GRAPH.json   # the same with asyncio
    python bench/agent_floor.py show TEMPLATE.json       # workflow show --json
    python bench/agent_floor.py job URL GRAPH.json DIR   # generate --json (trivial job)

``--httpx`` before the case imports httpx first, as a hand-written httpx client does
even when its case sends nothing (the ledger and show cases).
"""

import json
import sys


def ledger(db: str, job: str) -> dict:
    """One job's row from the SQLite ledger, as status/wait print it."""
    import sqlite3

    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job,)).fetchone()
    conn.close()
    record = dict(row)
    for name in ("params", "seeds", "outputs", "extra"):
        record[name] = json.loads(record[name])
    return {"job": record["id"], "status": record["status"], "outputs": record["outputs"]}


def detach(url: str, graph_file: str) -> dict:
    """GET /queue (is it there), POST /prompt: what ``generate --detach`` sends."""
    import uuid

    import httpx

    with open(graph_file, encoding="utf-8") as handle:
        graph = json.load(handle)
    body = {"prompt": graph, "client_id": uuid.uuid4().hex, "prompt_id": str(uuid.uuid4())}
    # No CA bundle and no proxy lookup for plain http: the savings comfycine makes.
    with httpx.Client(base_url=url, verify=False, trust_env=False) as http:
        http.get("/queue").raise_for_status()
        http.post("/prompt", json=body).raise_for_status()
    return {"job": body["prompt_id"], "status": "queued"}


async def detach_async(url: str, graph_file: str) -> dict:
    """:func:`detach` on httpx's asyncio client, as comfycine sends it."""
    import uuid

    import httpx

    with open(graph_file, encoding="utf-8") as handle:
        graph = json.load(handle)
    body = {"prompt": graph, "client_id": uuid.uuid4().hex, "prompt_id": str(uuid.uuid4())}
    async with httpx.AsyncClient(base_url=url, verify=False, trust_env=False) as http:
        (await http.get("/queue")).raise_for_status()
        (await http.post("/prompt", json=body)).raise_for_status()
    return {"job": body["prompt_id"], "status": "queued"}


def show(template_file: str) -> dict:
    """The template's nodes, read from its file."""
    with open(template_file, encoding="utf-8") as handle:
        graph = json.load(handle)
    nodes = [
        {"id": k, "class_type": v.get("class_type"), "title": v.get("_meta", {}).get("title")}
        for k, v in graph.items()
        if isinstance(v, dict)
    ]
    return {"name": template_file, "nodes": nodes}


async def job(url: str, graph_file: str, out_dir: str) -> dict:
    """Socket, POST /prompt, wait for the end, GET /history, stream the output to disk.

    The steps of ``generate_e2e.minimal_generate``, written again on purpose: importing
    that module would load comfycine's templates and spoil the floor's start-up time.
    """
    import uuid

    import httpx
    from websockets.asyncio.client import connect

    with open(graph_file, encoding="utf-8") as handle:
        graph = json.load(handle)
    client_id, prompt_id = uuid.uuid4().hex, str(uuid.uuid4())
    ws_url = "ws" + url.removeprefix("http") + f"/ws?clientId={client_id}"
    http_client = httpx.AsyncClient(base_url=url, verify=False, trust_env=False)
    socket = connect(ws_url, max_size=None, compression=None, proxy=None)
    async with http_client as http, socket as ws:
        await ws.recv()
        body = {"prompt": graph, "client_id": client_id, "prompt_id": prompt_id}
        (await http.post("/prompt", json=body)).raise_for_status()
        while True:
            frame = await ws.recv()
            if isinstance(frame, str):
                message = json.loads(frame)
                data = message.get("data", {})
                if (
                    message["type"] == "executing"
                    and data.get("node") is None
                    and data.get("prompt_id") == prompt_id
                ):
                    break
        history = (await http.get(f"/history/{prompt_id}")).json()[prompt_id]
        item = next(iter(history["outputs"].values()))["images"][0]
        target = f"{out_dir}/floor-{prompt_id[:8]}-{item['filename']}"
        async with http.stream("GET", "/view", params=item) as response:
            with open(target, "wb") as handle:
                async for chunk in response.aiter_bytes():
                    handle.write(chunk)
    return {"job": prompt_id, "status": "succeeded", "outputs": [target]}


def main() -> None:
    """Run one case and print its JSON line."""
    args = sys.argv[1:]
    if args[0] == "--httpx":
        import httpx  # noqa: F401  (what an httpx client pays even when it sends nothing)

        args = args[1:]
    case, rest = args[0], args[1:]
    if case == "ledger":
        data = ledger(*rest)
    elif case == "detach":
        data = detach(*rest)
    elif case == "show":
        data = show(*rest)
    else:
        import asyncio

        data = asyncio.run(detach_async(*rest) if case == "detach-async" else job(*rest))
    sys.stdout.write(json.dumps({"ok": True, "data": data}) + "\n")


if __name__ == "__main__":
    main()
