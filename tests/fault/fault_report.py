#!/usr/bin/env python3
"""Writes the fault test's result (tests/fault/fault_test.sh) as Markdown and JSON.

    python3 tests/fault/fault_report.py FAULT_DIR RESULT.md     # also writes RESULT.json

FAULT_DIR holds what the script collected (every file is optional, so a run that stopped early
still gets a report of what is known):
  meta.txt      key=value settings of the run
  faults.tsv    n, t_kill, target, action, during, t_up (seconds since the load started)
  load.out      the load client's "RESULT key=value ..." line
  check.out     tahe_fault_load --mode=check: RESULT / TENANT / LOST / DUPLICATED ... lines
  tenants.tsv   tenant, entries, balanced, debit, chain_ok, chain_entries, pay runs, billing
                runs, single invoices
  outbox.tsv    process, undelivered rows, backlog metric, rows, delivered_total, failures_total
  reporting.txt one line per organisation compared
  workers.log   every failed step of the pay-run and billing workers (each was retried)
  failures.txt  the problems the checks found; empty or missing: passed
"""
import json
import os
import sys


def read_lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f if line.strip()]
    except FileNotFoundError:
        return []


def tsv(path):
    return [line.split("\t") for line in read_lines(path)]


def key_values(line):
    out = {}
    for word in line.split()[1:]:
        if "=" in word:
            k, v = word.split("=", 1)
            out[k] = v
    return out


def main():
    fdir, result = sys.argv[1], sys.argv[2]
    meta = dict(l.split("=", 1) for l in read_lines(os.path.join(fdir, "meta.txt")) if "=" in l)
    faults = []
    for row in tsv(os.path.join(fdir, "faults.tsv")):
        n, t_kill, target, action, during, t_up = (row + [""] * 6)[:6]
        faults.append({"n": int(n), "t_kill_s": float(t_kill), "target": target,
                       "action": action, "during": during, "t_serving_s": float(t_up),
                       "back_after_s": round(float(t_up) - float(t_kill), 1)})
    load = {}
    for line in read_lines(os.path.join(fdir, "load.out")):
        if line.startswith("RESULT "):
            load = key_values(line)
    check, check_tenants, check_problems = {}, {}, []
    for line in read_lines(os.path.join(fdir, "check.out")):
        if line.startswith("RESULT "):
            check = key_values(line)
        elif line.startswith("TENANT "):
            check_tenants[line.split()[1]] = key_values(line[len("TENANT"):])
        else:
            check_problems.append(line)
    tenants = []
    for row in tsv(os.path.join(fdir, "tenants.tsv")):
        row = (row + [""] * 9)[:9]
        t = {"organisation": row[0], "entries": row[1], "balanced": row[2],
             "total_debit_minor": row[3], "chain_ok": row[4], "chain_entries": row[5],
             "pay_runs": row[6], "billing_runs": row[7], "single_invoices": row[8]}
        c = check_tenants.get(row[0], {})
        t["load_entries"] = c.get("load_entries", "?")
        t["acknowledged"] = c.get("acknowledged", "?")
        tenants.append(t)
    outboxes = []
    for row in tsv(os.path.join(fdir, "outbox.tsv")):
        row = (row + [""] * 6)[:6]
        outboxes.append({"process": row[0], "undelivered_rows": row[1], "backlog_metric": row[2],
                         "messages": row[3], "delivered_total": row[4],
                         "delivery_failures_total": row[5]})
    failures = read_lines(os.path.join(fdir, "failures.txt"))
    worker_retries = read_lines(os.path.join(fdir, "workers.log"))
    reporting = read_lines(os.path.join(fdir, "reporting.txt"))

    restarts = sum(1 for f in faults if f["target"] != "postgres")
    pg_restarts = sum(1 for f in faults if f["target"] == "postgres")
    verdict = "PASS" if not failures else "FAIL"
    data = {"verdict": verdict, "meta": meta, "faults": faults, "process_restarts": restarts,
            "postgres_restarts": pg_restarts, "writes": {
                "attempted": load.get("attempted"), "acknowledged": load.get("acknowledged"),
                "retried": load.get("retried"), "replayed": load.get("replayed"),
                "unacknowledged_at_end": load.get("unacknowledged"),
                "failed": load.get("failed"), "calls": load.get("calls"),
                "confirmed_in_ledger": check.get("confirmed"), "lost": check.get("lost"),
                "sequence_mismatch": check.get("sequence_mismatch"),
                "duplicated": check.get("duplicated"), "unexpected": check.get("unexpected"),
                "unbalanced_entries": check.get("unbalanced"),
                "unacknowledged_but_posted": check.get("unacknowledged_but_posted")},
            "organisations": tenants, "outboxes": outboxes, "reporting": reporting,
            "worker_step_retries": len(worker_retries), "problems": failures,
            "check_details": check_problems}

    def v(x):
        return "?" if x is None or x == "" else str(x)

    md = [f"# Fault test: {verdict}", ""]
    md.append(f"`bash tests/fault/fault_test.sh` on {v(meta.get('date'))}, commit "
              f"{v(meta.get('commit'))}: {v(meta.get('rounds'))} round(s), a fault every "
              f"{v(meta.get('interval'))} s, each process dead for {v(meta.get('down'))} s; "
              f"{v(meta.get('clients'))} posting clients ({v(meta.get('pause_ms'))} ms pause) for "
              f"{v(meta.get('load_tenants'))}; pay runs of {v(meta.get('employees'))} employees "
              f"and billing runs of {v(meta.get('drafts'))} drafts for "
              f"{v(meta.get('work_tenants'))}.")
    md += ["", "## Faults", "",
           "| # | t (s) | killed | how | back (SERVING) after (s) | during |",
           "|---|---|---|---|---|---|"]
    for f in faults:
        md.append(f"| {f['n']} | {f['t_kill_s']} | {f['target']} | {f['action']} | "
                  f"{f['back_after_s']} | {f['during']} |")
    md += ["", f"Process restarts: {restarts}; PostgreSQL restarts: {pg_restarts}; failed steps "
           f"of the pay-run and billing workers, each retried with its request id: "
           f"{len(worker_retries)}.", ""]
    w = data["writes"]
    md += ["## Writes (posting load through the gateway)", "",
           "| attempted | acknowledged | retried | acknowledged as replay | unacknowledged at end "
           "| failed | lost | duplicated | unexpected | unbalanced entries |",
           "|---|---|---|---|---|---|---|---|---|---|",
           f"| {v(w['attempted'])} | {v(w['acknowledged'])} | {v(w['retried'])} | "
           f"{v(w['replayed'])} | {v(w['unacknowledged_at_end'])} | {v(w['failed'])} | "
           f"**{v(w['lost'])}** | **{v(w['duplicated'])}** | {v(w['unexpected'])} | "
           f"{v(w['unbalanced_entries'])} |", ""]
    md += ["## Organisations", "",
           "| organisation | entries | load entries | acknowledged | pay runs | billing runs | "
           "single invoices | balanced | chain ok |",
           "|---|---|---|---|---|---|---|---|---|"]
    for t in tenants:
        md.append(f"| {t['organisation']} | {t['entries']} | {t['load_entries']} | "
                  f"{t['acknowledged']} | {t['pay_runs']} | {t['billing_runs']} | "
                  f"{t['single_invoices']} | {t['balanced']} | {t['chain_ok']} |")
    md += ["", "## Outboxes at the end", "",
           "| process | undelivered (table) | backlog metric | messages | delivered since "
           "last start | failed attempts since last start |",
           "|---|---|---|---|---|---|"]
    for o in outboxes:
        md.append(f"| {o['process']} | {v(o['undelivered_rows'])} | {v(o['backlog_metric'])} | "
                  f"{v(o['messages'])} | {v(o['delivered_total'])} | "
                  f"{v(o['delivery_failures_total'])} |")
    if reporting:
        md += ["", "Reporting: " + "; ".join(reporting) + "."]
    md += ["", "## Problems", ""]
    md += [f"- {p}" for p in failures] or ["none"]
    if check_problems:
        md += ["", "Checker details:", "", "```"] + check_problems[:40] + ["```"]
    md.append("")

    os.makedirs(os.path.dirname(os.path.abspath(result)), exist_ok=True)
    with open(result, "w", encoding="utf-8") as f:
        f.write("\n".join(md))
    base = result[:-3] if result.endswith(".md") else result
    with open(base + ".json", "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
