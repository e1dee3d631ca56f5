#!/usr/bin/env python3
"""Prints the metric families the Tahe processes expose, one "name type" a line, sorted.

  python3 tests/monitoring/scrape_families.py .tahe/local.env          # every TAHE_METRICS_URLS
  python3 tests/monitoring/scrape_families.py http://127.0.0.1:9464/metrics ...

A family counts when it has at least one sample: prometheus-cpp leaves out a family whose
labelled series have not been created yet (tests/monitoring/metric_names.txt marks those lazy).
Used to write and refresh tests/monitoring/metric_names.txt (see its header).
"""
import shlex
import sys
import urllib.request


def urls_of(args):
    urls = []
    for arg in args:
        if arg.startswith("http://") or arg.startswith("https://"):
            urls.append(arg)
            continue
        with open(arg, encoding="utf-8") as f:
            for line in f:
                if line.startswith("TAHE_METRICS_URLS="):
                    urls += shlex.split(line.split("=", 1)[1])[0].split()
    return urls


def families(text):
    """{family: type} of the families with at least one sample in an exposition."""
    types = {}
    seen = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            types[name] = kind.strip()
        elif line and not line.startswith("#"):
            seen.add(line.split("{", 1)[0].split(" ", 1)[0])
    result = {}
    for name, kind in types.items():
        if kind == "histogram":
            samples = {name + "_bucket", name + "_sum", name + "_count"}
        elif kind == "summary":
            samples = {name, name + "_sum", name + "_count"}
        else:
            samples = {name}
        if samples & seen:
            result[name] = kind
    return result


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    found = {}
    for url in urls_of(sys.argv[1:]):
        with urllib.request.urlopen(url, timeout=10) as response:
            found.update(families(response.read().decode("utf-8")))
    for name in sorted(found):
        print(f"{name} {found[name]}")


if __name__ == "__main__":
    main()
