#!/usr/bin/env python3
"""One memory sample of the soak test (tests/load/soak.sh): one line per process on stdout,

    INDEX SECONDS NAME RSS_KIB ANON_KIB PSS_KIB PROCESSES

from /proc/PID/status (VmRSS, RssAnon) and /proc/PID/smaps_rollup (Pss; -1 when it cannot be
read). --process NAME=PID is one process; --group NAME=PID is PID and all its children summed
(PostgreSQL: the postmaster and its backends), PROCESSES saying how many. A process that is gone
is "NAME gone gone gone 0". One run reads everything at once, so a sample takes milliseconds
however many backends there are.

    soak_sample.py --index 3 --seconds 180.2 --process gateway=123 --group postgres=456
"""

import argparse
import os


def read_kib(path, keys):
    """The values (KiB) of `keys` in a /proc file of "Key:   value kB" lines; None if unreadable."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in keys:
            values[key] = int(rest.split()[0])
    return values


def memory(pid):
    """(rss, anon, pss) of one process in KiB, pss -1 when unreadable; None when it is gone."""
    status = read_kib(f"/proc/{pid}/status", ("VmRSS", "RssAnon"))
    if status is None:
        return None
    rollup = read_kib(f"/proc/{pid}/smaps_rollup", ("Pss",))
    if rollup is None and not os.path.exists(f"/proc/{pid}"):
        return None  # ended between the two reads
    pss = rollup.get("Pss", 0) if rollup is not None else -1  # no Pss line: no memory map
    return status.get("VmRSS", 0), status.get("RssAnon", 0), pss


def children(parent):
    """The pids whose parent is `parent`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == parent:
            found.append(int(entry))
    return found


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--index", required=True)
    p.add_argument("--seconds", required=True)
    p.add_argument("--process", action="append", default=[])
    p.add_argument("--group", action="append", default=[])
    a = p.parse_args()

    lines = []
    for item in a.process + a.group:
        name, _, pid = item.partition("=")
        pid = int(pid)
        first = memory(pid)
        if first is None:
            lines.append(f"{a.index} {a.seconds} {name} gone gone gone 0")
            continue
        rss, anon, pss = first
        n = 1
        if item in a.group:
            for child in children(pid):
                m = memory(child)
                if m is None:  # a backend that has just ended
                    continue
                rss, anon, n = rss + m[0], anon + m[1], n + 1
                pss = -1 if pss < 0 or m[2] < 0 else pss + m[2]
        lines.append(f"{a.index} {a.seconds} {name} {rss} {anon} {pss} {n}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
