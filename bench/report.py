"""What a run found: the results as JSON, each target as a ratio of two
measurements of the same run, BENCHMARKS.md and a chart.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
from pathlib import Path

import psycopg

from bench import earlier_plan, live_updates
from bench.branches import BEFORE_SUBJECT, BRANCHED_SERVER, BRANCHED_STATEMENT_MS, EDITS, TREE_SERVER
from bench.workloads import BUDGETED_ITEMS, BUDGETED_SERVER, CONTEXT_TOKENS, RECENT_AS_BUDGETED_SERVER, Result

# (name, what, numerator, denominator, measure, comparison, target)
# measure: "throughput" (higher is better) or "p50_ms" (lower is better); "p50_ms_per_row", each side's p50_ms
# divided by the rows a call returns (for two reads that return different numbers of rows)
TARGETS = [
    ("append_vs_sqlmodel", "append throughput, ours / SQLModel design", ("ours", "append"),
     ("sqlmodel", "append"), "throughput", ">=", 4.0),
    ("append_vs_langchain", "append throughput, ours / langchain-postgres", ("ours", "append"),
     ("langchain-postgres", "append"), "throughput", ">=", 0.8),
    ("turn4_vs_langchain", "a 4-message turn, items/s, append_messages / langchain-postgres aadd_messages",
     ("ours", "turn4_batch"), ("langchain-postgres", "turn4_batch"), "throughput", ">=", 1.0),
    ("agent_add_vs_sdk", "a 4-item agent turn, items/s, ChatStoreSession.add_items / SQLAlchemySession",
     ("ours", "agent_turn4"), ("agents-sqlalchemy", "agent_turn4"), "throughput", ">=", 1.5),
    ("agent_items50_vs_sdk", "get_items(50) of 10,000 items, latency, ChatStoreSession / SQLAlchemySession",
     ("ours", "agent_items50"), ("agents-sqlalchemy", "agent_items50"), "p50_ms", "<=", 1.0),
    ("agent_items_all_vs_sdk", "get_items() of 1,000 items, latency, ChatStoreSession / SQLAlchemySession",
     ("ours", "agent_items_all"), ("agents-sqlalchemy", "agent_items_all"), "p50_ms", "<=", 1.0),
    ("append_vs_pgbench", "append throughput, ours / pgbench (same transactions)", ("ours", "append"),
     ("pgbench", "append"), "throughput", ">=", 0.8),
    ("recent50_vs_sqlmodel", "fetch_recent(50) of 10,000, latency, ours / SQLModel design", ("ours", "recent50"),
     ("sqlmodel", "recent50"), "p50_ms", "<=", 0.6),
    ("rls_server", "fetch_recent(50) server time, RLS on / RLS bypassed (1,000 calls per statement)",
     ("ours", "recent50_server"), ("ours-bypass-rls", "recent50_server"), "p50_ms", "<=", 1.1),
    ("rls_cost", "fetch_recent(50) latency, RLS on / RLS bypassed", ("ours", "recent50"),
     ("ours-bypass-rls", "recent50"), "p50_ms", "<=", 1.2),
    ("rls_cost_append", "append throughput, RLS on / RLS bypassed (information)", ("ours", "append"),
     ("ours-bypass-rls", "append"), "throughput", "info", None),
    ("recent50_vs_pgbench", "fetch_recent(50) latency, ours / pgbench (same transaction)", ("ours", "recent50"),
     ("pgbench", "recent50"), "p50_ms", "<=", 1.5),
    ("recent50_vs_bare", "fetch_recent(50) latency, ours / bare psycopg (the layer's part, information)",
     ("ours", "recent50"), ("psycopg", "recent50"), "p50_ms", "info", None),
    ("bare_vs_pgbench", "fetch_recent(50) latency, bare psycopg / pgbench (the client's part, information)",
     ("psycopg", "recent50"), ("pgbench", "recent50"), "p50_ms", "info", None),
    ("append_vs_bare", "append throughput, ours / bare psycopg (the layer's part, information)",
     ("ours", "append"), ("psycopg", "append"), "throughput", "info", None),
    ("replica_recent50", "fetch_recent(50) latency, on the read replica / on the primary (information)",
     ("ours-replica", "recent50"), ("ours", "recent50"), "p50_ms", "info", None),
    ("replica_list20", "list_conversations(20) latency, on the read replica / on the primary (information)",
     ("ours-replica", "list20"), ("ours", "list20"), "p50_ms", "info", None),
    ("turn_batch_vs_single", "a 4-item agent turn, items/s, append_messages / one append_message per item",
     ("ours", "turn4_batch"), ("ours", "turn4_single"), "throughput", ">=", 2.5),
    ("get_items_vs_recent", "get_items(50) of 10,000 items / fetch_recent(50) of 10,000 messages, latency "
     "(information)", ("ours", "agent_items50"), ("ours", "recent50"), "p50_ms", "info", None),
    ("context_server", f"fetch_context({CONTEXT_TOKENS:,} tokens) / fetch_recent(50) of 10,000 messages, server "
     "time", ("ours", BUDGETED_SERVER), ("ours", "recent50_server"), "p50_ms", "<=", 1.5),
    ("context_server_per_message", f"fetch_context({CONTEXT_TOKENS:,} tokens) / fetch_recent(50), server time a "
     "message (information)", ("ours", BUDGETED_SERVER), ("ours", "recent50_server"), "p50_ms_per_row",
     "info", None),
    ("context_server_same_rows", f"fetch_context({CONTEXT_TOKENS:,} tokens) / fetch_recent of as many messages, "
     "server time (information)", ("ours", BUDGETED_SERVER), ("ours", RECENT_AS_BUDGETED_SERVER), "p50_ms", "info",
     None),
    ("agent_context_vs_items50", f"get_items() within {CONTEXT_TOKENS:,} tokens / get_items(50) of 10,000 items, "
     "latency (information)", ("ours", BUDGETED_ITEMS), ("ours", "agent_items50"), "p50_ms", "info", None),
    ("recent50_vs_before_tree", "fetch_recent(50) of 10,000, no branch, server time, by the active path / by seq "
     "(@v0.9.0)", ("ours", TREE_SERVER), (BEFORE_SUBJECT, TREE_SERVER), "p50_ms", "<=", 1.1),
    ("recent50_branched", f"fetch_recent(50) of 10,000, server time, {EDITS} edits along the active path / "
     "no branch", ("ours", BRANCHED_SERVER), ("ours", TREE_SERVER), "p50_ms", "<=", 1.5),
    ("append_vs_earlier_plan", f"append throughput (pgbench, 8 clients), the plan / the plan at tag {earlier_plan.TAG}",
     (earlier_plan.NOW, earlier_plan.WORKLOAD), (earlier_plan.BEFORE, earlier_plan.WORKLOAD), "throughput", ">=",
     0.95),
    ("live_append", f"append throughput (pgbench, 8 clients), {live_updates.STREAMS} open streams of GET /api/events "
     "following the appending users / none", (live_updates.FOLLOWED, live_updates.WORKLOAD),
     (live_updates.UNFOLLOWED, live_updates.WORKLOAD), "throughput", ">=", 0.9),
    ("agent_context_per_item", f"get_items() within {CONTEXT_TOKENS:,} tokens / get_items(50), latency an item "
     "(information)", ("ours", BUDGETED_ITEMS), ("ours", "agent_items50"), "p50_ms_per_row", "info", None),
]


def machine(server: dict) -> dict:
    try:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as conn:
            version = conn.execute("select version()").fetchone()[0]
    except psycopg.Error:
        version = "unknown"
    memory = ""
    if Path("/proc/meminfo").exists():
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split(":")[1].strip()
    cpu = next((line.split(":")[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory": memory, "postgresql": version,
            "python": platform.python_version(), "os": platform.platform(),
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                     text=True).stdout.strip()}


def summarise(rounds: list[Result]) -> dict:
    """One measure over its rounds: the median of the rounds' medians (latency) and of their throughputs, each
    with its spread (lowest and highest round); the 99th percentile of every call of every round."""
    first = rounds[0]
    # rounded first, and the medians taken of those: a ratio of medians then lies within the ratios of the rounds
    # (rounded after, a median of two rounds could fall outside them at the server's times of 0.02 ms)
    medians = [round(r.median_ms, 3) for r in rounds]
    throughputs = [round(r.throughput, 1) for r in rounds]
    every = sorted(latency for r in rounds for latency in r.latencies_ms)
    return {"subject": first.subject, "workload": first.workload, "size": first.size, "rounds": len(rounds),
            "ops": sum(r.ops for r in rounds), "rows": rounds[-1].rows, "per_op": first.per_op,
            "p50_ms": statistics.median(medians),
            "p50_ms_spread": [min(medians), max(medians)],
            "p99_ms": round(every[min(len(every) - 1, int(0.99 * len(every)))], 3),
            "throughput": statistics.median(throughputs),
            "throughput_spread": [min(throughputs), max(throughputs)],
            "per_round": [{"round": r.round, "p50_ms": median, "throughput": throughput}
                          for r, median, throughput in zip(rounds, medians, throughputs, strict=True)]}


def ratio_of(top: dict, bottom: dict, measure: str) -> tuple[float, list[float]] | None:
    """The ratio of the two medians, and the spread of the ratios of the rounds the two share; per row returned
    (``…_per_row``), each side divided by its rows. None when the denominator is nothing to divide by."""
    base = measure.removesuffix("_per_row")
    per_row = (top["rows"], bottom["rows"]) if base != measure else (1, 1)
    if not bottom[base] or not all(per_row):
        return None
    rows = per_row[1] / per_row[0]  # (top / its rows) / (bottom / its rows)
    value = top[base] / bottom[base] * rows
    below = {r["round"]: r[base] for r in bottom["per_round"]}
    each = [r[base] / below[r["round"]] * rows for r in top["per_round"] if below.get(r["round"])]
    return value, [min(each, default=value), max(each, default=value)]


def collect(results: list[Result], *, scale: float, rounds: int, seconds: float, repeats: int,
            server: dict, context: dict | None = None) -> dict:
    """The results summarised, and the ratios. ``context``: what the budget of the context workloads holds (see
    ``bench.__main__.count_context``), kept as it is."""
    groups: dict[tuple, list[Result]] = {}
    for result in results:
        groups.setdefault((result.subject, result.workload, result.size), []).append(result)
    summaries = [summarise(group) for group in groups.values()]
    by_key = {(r["subject"], r["workload"]): r for r in summaries if not r["workload"].startswith("scale_")}
    ratios = []
    for name, what, top, bottom, measure, comparison, target in TARGETS:
        found = ratio_of(by_key[top], by_key[bottom], measure) if top in by_key and bottom in by_key else None
        if found:
            value, spread = found
            met = None if comparison == "info" else (value >= target if comparison == ">=" else value <= target)
            ratios.append({"name": name, "what": what, "value": round(value, 3),
                           "spread": [round(x, 3) for x in spread], "comparison": comparison,
                           "target": target, "met": met})
    curve = sorted((r for r in summaries if r["workload"] == "scale_recent50"), key=lambda r: r["size"])
    if len(curve) >= 2:
        value = curve[-1]["p50_ms"] / curve[0]["p50_ms"]
        ratios.append({"name": "scale", "what": f"fetch_recent(50) latency at {curve[-1]['size']:,} messages / "
                                                f"at {curve[0]['size']:,}",
                       "value": round(value, 3), "spread": [round(value, 3)] * 2, "comparison": "<=",
                       "target": 1.3, "met": value <= 1.3})
    return {"machine": machine(server), "scale": scale, "rounds": rounds, "seconds": seconds, "repeats": repeats,
            "context": context, "results": summaries, "ratios": ratios}


def context_held(data: dict) -> str | None:
    """What the budget of the context workloads holds, in words; None when the run did not count it."""
    context = data.get("context")
    if not context:
        return None
    conversation, session = context["conversation"], context["session"]
    return (f"{context['max_tokens']:,} tokens hold the newest {conversation['messages']:,} messages of the "
            f"10,000-message conversation ({conversation['tokens']:,} tokens; fetch_recent reads 50) and the newest "
            f"{session['messages']:,} items of the 10,000-item agent's session ({session['tokens']:,} tokens; "
            "get_items(50) reads 50)")


def print_targets(data: dict) -> None:
    if held := context_held(data):
        print(f"\n{held}")
    print(f"\n{'ratio':<92} {'value [spread of the rounds]':>28}  target")
    for ratio in data["ratios"]:
        verdict = {True: "met", False: "MISSED", None: ""}[ratio["met"]]
        target = "" if ratio["comparison"] == "info" else f"{ratio['comparison']} {ratio['target']}"
        print(f"{ratio['what']:<92} {with_spread(ratio['value'], ratio['spread']):>28}  {target:<7} {verdict}")


def with_spread(value: float, spread: list[float], digits: int = 2) -> str:
    """``1.23 [1.01–1.40]``; the value alone when it has no spread."""
    if spread[0] == spread[1] == value:
        return f"{value:,.{digits}f}"
    return f"{value:,.{digits}f} [{spread[0]:,.{digits}f}–{spread[1]:,.{digits}f}]"


def chart(data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = data["results"]
    final = max(r["size"] for r in results)
    fig, (latency_ax, append_ax, scale_ax) = plt.subplots(1, 3, figsize=(16, 5))

    workloads = ["recent50", "page100", "whole1000", "list20", "turn"]
    subjects = [s for s in ("ours", "ours-replica", "ours-bypass-rls", "sqlmodel", "langchain-postgres", "pgbench")
                if any(r["subject"] == s for r in results)]
    width = 0.8 / len(subjects)
    for i, subject in enumerate(subjects):
        values = [next((r["p50_ms"] for r in results if r["subject"] == subject and r["workload"] == w
                        and r["size"] == final), 0) for w in workloads]
        latency_ax.bar([x + i * width for x in range(len(workloads))], values, width, label=subject)
    latency_ax.set_xticks([x + width * (len(subjects) - 1) / 2 for x in range(len(workloads))], workloads)
    latency_ax.set_yscale("log")
    latency_ax.set_ylabel("median latency, ms (log)")
    latency_ax.set_title(f"reads and a chat turn, {final:,} messages")
    latency_ax.legend(fontsize=8)

    appends = [r for r in results if r["workload"] == "append"]
    append_ax.bar([r["subject"] for r in appends], [r["throughput"] for r in appends], color="tab:green")
    append_ax.set_ylabel("appends per second (8 clients)")
    append_ax.set_title("append throughput")
    append_ax.tick_params(axis="x", rotation=30)

    for workload in ("scale_recent50", "scale_page100"):
        curve = sorted((r for r in results if r["workload"] == workload), key=lambda r: r["size"])
        scale_ax.plot([r["size"] for r in curve], [r["p50_ms"] for r in curve], marker="o",
                      label=workload.removeprefix("scale_"))
    scale_ax.set_xscale("log")
    scale_ax.set_ylim(bottom=0)
    scale_ax.set_xlabel("messages in the database")
    scale_ax.set_ylabel("median latency, ms")
    scale_ax.set_title("ours as the data grows")
    scale_ax.legend()

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


START, END = "<!-- results: written by python -m bench -->", "<!-- end of results -->"


def write(data: dict, directory: Path) -> None:
    """benchmarks.png, and the results section of BENCHMARKS.md (the rest of the file is prose kept as it is)."""
    directory.mkdir(parents=True, exist_ok=True)
    chart(data, directory / "benchmarks.png")
    generated = "\n".join([START, *results_section(data), END])
    path = directory / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START in text and END in text:
        text = text[:text.index(START)] + generated + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + generated + "\n"
    path.write_text(text)


def results_section(data: dict) -> list[str]:
    m = data["machine"]
    lines = [
        f"Measured on {m['date']} at commit {m['commit']}: {m['cpus']} CPUs ({m['cpu']}), {m['memory']} of memory,",
        f"{m['postgresql']}, Python {m['python']}. Every subject ran on the same server in the same run, in",
        f"{data['rounds']} interleaved rounds (each round runs every workload of every subject once, the subjects in",
        "a rotated order); a figure is the median of the rounds, [the lowest and highest round]. Numbers are",
        "comparable only within this run.",
        "",
        "```sh",
        f"make bench ARGS='--scale {data['scale']:g} --rounds {data['rounds']} --seconds {data['seconds']:g} "
        f"--repeats {data['repeats']}'",
        "```",
        "",
        "## Targets",
        "",
        "| ratio | value [rounds] | target | |",
        "|---|---:|---|---|",
    ]
    for ratio in data["ratios"]:
        target = "information" if ratio["comparison"] == "info" else f"{ratio['comparison']} {ratio['target']}"
        verdict = {True: "met", False: "**missed**", None: ""}[ratio["met"]]
        lines.append(f"| {ratio['what']} | {with_spread(ratio['value'], ratio['spread'])} | {target} | {verdict} |")
    if held := context_held(data):
        lines += ["", f"The model's context: {held}."]
    lines += ["", "![latency, throughput and scale](benchmarks.png)", "", "## Measurements", "",
              f"`recent50_server` and `{BUDGETED_SERVER}` are the server's own time per call (one statement of",
              "1,000 calls, timed by the server; 7 statements a round of each, `fetch_recent(50)` as the runtime",
              f"role and as BYPASSRLS, `fetch_context({CONTEXT_TOKENS})` as the runtime role, and",
              f"`fetch_recent` of as many messages as the budget holds (`{RECENT_AS_BUDGETED_SERVER}`), in turn).",
              f"`{TREE_SERVER}` and `{BRANCHED_SERVER}` are the same, in turn: `fetch_recent(50)` of the",
              "10,000-message conversation as it is (`ours`) and as it was before it read the active path",
              f"(`{BEFORE_SUBJECT}`: its body at @v0.9.0, under another name), and of a conversation of as many",
              f"messages with {EDITS} edits along its active path (fewer calls a statement when 1,000 would",
              f"take over {BRANCHED_STATEMENT_MS:g} ms, at least 20). `{earlier_plan.WORKLOAD}` is pgbench's append",
              "(8 clients, as the runtime role) in two small databases of their own, seeded alike, one with the",
              f"plan and one with the plan at {earlier_plan.TAG}, one after the other. `{live_updates.WORKLOAD}` is",
              f"the same append in a third such database, with {live_updates.STREAMS} streams of `GET /api/events`",
              "open on an instance of the service (`uvicorn app.main:app`, a process of its own; one stream for each",
              "user the appends go to, read to the end by a process of the benchmark that only counts the events,",
              "every append checked to have reached its stream) and with none, one after the other.",
              "Every other latency is a call's, through the client.", "",
              "| subject | workload | messages | rounds | calls | median ms [rounds] | p99 ms | per second [rounds] |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in data["results"]:
        lines.append(f"| {r['subject']} | {r['workload']} | {r['size']:,} | {r['rounds']} | {r['ops']:,} "
                     f"| {with_spread(r['p50_ms'], r['p50_ms_spread'])} | {r['p99_ms']:.2f} "
                     f"| {with_spread(r['throughput'], r['throughput_spread'], 0)} |")
    return lines
