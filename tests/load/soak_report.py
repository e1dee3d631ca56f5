#!/usr/bin/env python3
"""The summary of a soak run (tests/load/soak.sh), in Markdown on stdout, and its checks.

Inputs: the memory samples soak.sh took (samples.tsv: index, seconds since the load began, name,
RSS, RssAnon and PSS in KiB, processes; "gone" when the process had ended) and the output of
tahe_soak_load (capacity: a RESULT line; soak: WINDOW lines and a RESULT line).

Sample 1 (end of the first window, the warm-up) is the start, sample 10 the end; window 2 is the
start of the load figures, window 10 the end. Exit status 1 when a check fails:
  - a Tahe process (every one but the PostgreSQL group) is gone, or its RSS grew from the start to
    the end by 10 % or more and by more than --floor-mib;
  - a call ended with a code other than OK and RESOURCE_EXHAUSTED, or a due call was not sent.
Latency is reported only.
"""

import argparse
import re
import sys

GROWTH_LIMIT_PERCENT = 10.0
ALLOWED_CODES = {"OK", "RESOURCE_EXHAUSTED"}
START, END = 1, 10


def fields(line):
    return dict(m.groups() for m in re.finditer(r"(\w+)=(\S+)", line))


def codes_of(text):
    if text in ("", "-"):
        return {}
    return {name: int(n) for name, n in (item.split(":") for item in text.split(","))}


def mib(kib):
    return kib / 1024.0


def fmt_codes(codes, only_errors=False):
    items = [f"{c} {n}" for c, n in sorted(codes.items()) if not (only_errors and c == "OK")]
    return ", ".join(items) if items else "0"


def main():
    p = argparse.ArgumentParser()
    for name in ("samples", "soak", "capacity", "command", "commit", "machine", "uptime-begin",
                 "uptime-end"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--seconds", type=int, required=True)
    p.add_argument("--fraction", type=float, required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--floor-mib", type=float, required=True)
    p.add_argument("--concurrency", type=int, required=True)
    p.add_argument("--capacity-seconds", type=int, required=True)
    a = p.parse_args()

    # --- the samples -----------------------------------------------------------------------------
    order, samples, times = [], {}, {}
    with open(a.samples) as f:
        for line in f:
            index, t, name, rss, anon, pss, n = line.split()
            index = int(index)
            if name not in order:
                order.append(name)
            times[index] = float(t)
            samples[(name, index)] = None if rss == "gone" else {
                "rss": int(rss), "anon": int(anon), "pss": int(pss), "n": int(n)}
    # PostgreSQL last, the gateway first, the cells' services in between.
    order.sort(key=lambda n: (n == "postgres", n != "gateway", n.split("-", 1)[-1], n))

    # --- the load --------------------------------------------------------------------------------
    windows, result = {}, None
    with open(a.soak) as f:
        for line in f:
            if line.startswith("WINDOW "):
                w = fields(line)
                windows[int(w["index"])] = w
            elif line.startswith("RESULT "):
                result = fields(line)
    capacity = None
    with open(a.capacity) as f:
        for line in f:
            if line.startswith("RESULT "):
                capacity = fields(line)
    if result is None or capacity is None:
        print("soak_report.py: no RESULT line from tahe_soak_load", file=sys.stderr)
        return 1

    failures = []
    total_codes = codes_of(result["codes"])
    bad = {c: n for c, n in total_codes.items() if c not in ALLOWED_CODES}
    if bad:
        failures.append(f"calls failed: {fmt_codes(bad)}")
    if int(result["skipped"]) > 0:
        failures.append(f"{result['skipped']} due calls were not sent (too many in flight)")

    out = []
    w_start, w_end = windows.get(2, {}), windows.get(10, {})
    window_s = a.seconds / 10.0
    out.append(f"### Soak: {a.seconds} s at {a.fraction:g} of capacity\n")
    out.append(
        f"Measured with `{a.command}` on commit {a.commit}. Machine: {a.machine}, shared with "
        f"other work: `uptime` at the start: {a.uptime_begin.strip()}; at the end: "
        f"{a.uptime_end.strip()}. Everything on loopback: two cells (ledger, payroll, invoicing, "
        "reporting each), the gateway and PostgreSQL (deploy/local/run.sh); the load "
        "(tests/load/tahe_soak_load) calls the gateway with the demo operator key, spread over "
        "lahti, phhyky (Päijät-Häme) and vaasa, seinajoki (Pohjanmaa); mix per 10 calls: 4 "
        "PostEntry (1910/3000), 3 GetAccountBalance (1700), 1 reporting GetTrialBalance, 1 payroll ListEmployees, "
        "1 invoicing ListCustomers.\n")
    out.append(
        f"Capacity (closed loop, {a.concurrency} clients, {a.capacity_seconds} s after a 2 s "
        f"warm-up): **{float(capacity['calls_per_s']):.0f} calls/s** (p50 "
        f"{float(capacity['p50_us']) / 1000:.1f} ms, p99 {float(capacity['p99_us']) / 1000:.1f} "
        f"ms, {capacity['errors']} errors). Soak: open loop at **{a.rate:g} calls/s** for "
        f"{a.seconds} s; windows of {window_s:g} s, the first one the warm-up; start = window 2 "
        "(load) and the sample at the end of window 1 (memory); end = window 10 and the last "
        "sample.\n")

    def lat(w, key):
        return f"{float(w[key]) / 1000:.1f}" if w else "–"

    def errs(w):
        return fmt_codes(codes_of(w["codes"]), only_errors=True) if w else "–"

    out.append("| Load | Start (window 2) | End (window 10) | Whole run |")
    out.append("|---|---|---|---|")
    out.append(f"| calls sent | {w_start.get('sent', '–')} | {w_end.get('sent', '–')} | "
               f"{result['sent']} of {result['due']} due |")
    out.append(f"| rate, calls/s | {int(w_start.get('sent', 0)) / window_s:.0f} | "
               f"{int(w_end.get('sent', 0)) / window_s:.0f} | "
               f"{int(result['sent']) / a.seconds:.0f} (target {a.rate:g}) |")
    out.append(f"| errors (by code) | {errs(w_start)} | {errs(w_end)} | "
               f"{fmt_codes(total_codes, only_errors=True)} |")
    out.append(f"| p50 ms | {lat(w_start, 'p50_us')} | {lat(w_end, 'p50_us')} | "
               f"{lat(result, 'p50_us')} |")
    out.append(f"| p99 ms | {lat(w_start, 'p99_us')} | {lat(w_end, 'p99_us')} | "
               f"{lat(result, 'p99_us')} |")
    out.append("")

    out.append(
        f"Memory, start (t = {times.get(START, 0):.0f} s) to end (t = {times.get(END, 0):.0f} "
        f"s). A Tahe process fails when its RSS grows by {GROWTH_LIMIT_PERCENT:g} % or more and "
        f"by more than {a.floor_mib:g} MiB. RssAnon is its heap and stacks (the rest of RSS is "
        "mapped binaries and libraries); PSS shares pages among the processes mapping them (so "
        "it moves when other processes of the machine run the same binaries). PostgreSQL is the "
        "postmaster with all its backends, summed (RSS counts shared buffers once per backend; "
        "PSS does not), reported only.\n")
    out.append("| Process | RSS start MiB | RSS end MiB | Growth | Anon start → end MiB | "
               "PSS start → end MiB | Verdict |")
    out.append("|---|---|---|---|---|---|---|")
    for name in order:
        s, e = samples.get((name, START)), samples.get((name, END))
        label = name if name != "postgres" else (
            f"postgres (group of {s['n'] if s else '?'} → {e['n'] if e else '?'})")
        if s is None or e is None:
            if name != "postgres":
                failures.append(f"{name} is gone")
            start = "gone" if s is None else f"{mib(s['rss']):.1f}"
            end = "gone" if e is None else f"{mib(e['rss']):.1f}"
            verdict = "**gone**" if name != "postgres" else "reported only"
            out.append(f"| {label} | {start} | {end} | – | – | – | {verdict} |")
            continue
        growth = e["rss"] - s["rss"]
        percent = 100.0 * growth / s["rss"] if s["rss"] else 0.0
        pss = ("–" if s["pss"] < 0 or e["pss"] < 0 else
               f"{mib(s['pss']):.1f} → {mib(e['pss']):.1f}")
        if name == "postgres":
            verdict = "reported only"
        elif percent >= GROWTH_LIMIT_PERCENT and mib(growth) > a.floor_mib:
            verdict = "**grew**"
            failures.append(f"{name}: RSS grew {percent:.1f} % ({mib(growth):+.1f} MiB)")
        else:
            verdict = "ok"
        out.append(f"| {label} | {mib(s['rss']):.1f} | {mib(e['rss']):.1f} | "
                   f"{percent:+.1f} % ({mib(growth):+.1f} MiB) | "
                   f"{mib(s['anon']):.1f} → {mib(e['anon']):.1f} | {pss} | {verdict} |")
    out.append("")

    # The trend: RSS at every sample, and the load's p99 of every window.
    indices = sorted(times)
    out.append("Trend: RSS in MiB at every sample (t in seconds since the load began; sample 0 "
               "before it), and the p99 latency and errors of the window ending there.\n")
    out.append("| t s | " + " | ".join(f"{times[i]:.0f}" for i in indices) + " |")
    out.append("|---|" + "---|" * len(indices))
    for name in order:
        cells = []
        for i in indices:
            v = samples.get((name, i))
            cells.append("gone" if v is None else f"{mib(v['rss']):.1f}")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out.append("| p99 ms | " + " | ".join(
        lat(windows.get(i), "p99_us") if i in windows else "–" for i in indices) + " |")
    out.append("| errors | " + " | ".join(
        errs(windows.get(i)) if i in windows else "–" for i in indices) + " |")
    out.append("")
    if failures:
        out.append("**Failed:** " + "; ".join(failures) + ".")
    else:
        out.append(f"**Passed:** no Tahe process grew by {GROWTH_LIMIT_PERCENT:g} % or more (above "
                   f"the {a.floor_mib:g} MiB floor); no call failed.")
    print("\n".join(out))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
