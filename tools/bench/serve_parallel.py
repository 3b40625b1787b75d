#!/usr/bin/env python3
"""tools/bench/serve_parallel.py: issue 16, acceptance 2 through the server: N requests at once against a running
`strata serve` (started with OLLAMA_NUM_PARALLEL=N), beside each request alone.

Each of N prompts is first generated alone (greedy, num_predict tokens, /api/generate, not streamed), then all N
are sent at once. Prints each request's decode rate (eval_count / eval_duration), the aggregate of the N at
once (the sum of their rates, and their decoded tokens over the wall time from the first send to the last
answer), the ratio to one alone, and whether each response's text is the one it got alone.
Standard library only:  serve_parallel.py --url http://127.0.0.1:11434 --n 8 --tokens 64 [--json out.json]
"""
import argparse
import json
import statistics
import threading
import time
import urllib.request


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:11434")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--model", default="", help="default: the first model /api/tags lists")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    with urllib.request.urlopen(a.url + "/api/tags", timeout=60) as r:
        model = a.model or json.loads(r.read())["models"][0]["name"]
    prompts = [f"Request {i}: write about the number {i * 7 + 3} and the colour of the sea." for i in range(a.n)]

    def body(p):
        return {"model": model, "prompt": p, "stream": False, "raw": True,
                "options": {"temperature": 0, "num_predict": a.tokens, "seed": 1}}

    post(a.url + "/api/generate", body(prompts[0]))  # warm-up: loads the model, records its steps
    alone = [post(a.url + "/api/generate", body(p)) for p in prompts]
    rate = lambda r: r["eval_count"] / (r["eval_duration"] / 1e9)
    results = [None] * a.n
    def one(i):
        results[i] = post(a.url + "/api/generate", body(prompts[i]))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(a.n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    one_rate = statistics.median(rate(r) for r in alone)
    each = [rate(r) for r in results]
    agg = sum(each)
    wall_agg = sum(r["eval_count"] for r in results) / wall
    same = [results[i]["response"] == alone[i]["response"] for i in range(a.n)]
    print(f"model {model}: one request alone decodes {one_rate:.1f} tok/s (median of {a.n})")
    print(f"{a.n} at once: each {', '.join(f'{x:.1f}' for x in each)} tok/s")
    print(f"{a.n} at once: aggregate {agg:.1f} tok/s ({agg / one_rate:.2f}x one alone); over the wall time "
          f"(prompts included) {wall_agg:.1f} tok/s ({wall_agg / one_rate:.2f}x)")
    print(f"{a.n} at once: {sum(same)} of {a.n} responses are the text each gave alone")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"model": model, "n": a.n, "tokens": a.tokens, "alone_tok_s": [rate(r) for r in alone],
                       "each_tok_s": each, "aggregate_tok_s": agg, "wall_aggregate_tok_s": wall_agg,
                       "same_text_as_alone": same}, f, indent=1)


if __name__ == "__main__":
    main()
