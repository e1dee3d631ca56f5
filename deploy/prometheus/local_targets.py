#!/usr/bin/env python3
"""Writes Prometheus file_sd targets for the local suite from its local.env.

  python3 deploy/prometheus/local_targets.py .tahe/local.env deploy/prometheus/targets/local.json

Every URL of TAHE_METRICS_URLS becomes one target with the labels the rules and dashboards use:
service (gateway, ledger, ...) and cell (paijat-hame, ...; none for the gateway). The process
behind a URL is found by its port in the state directory's ports/<process>-metrics files
(deploy/local/run.sh writes them); a URL no such file names is labelled service="unknown".
The file is written atomically (Prometheus watches it).
"""
import json
import os
import shlex
import sys
import urllib.parse


def metrics_urls(env_file):
    with open(env_file, encoding="utf-8") as f:
        for line in f:
            if line.startswith("TAHE_METRICS_URLS="):
                return shlex.split(line.split("=", 1)[1])[0].split()
    raise SystemExit(f"local_targets.py: no TAHE_METRICS_URLS in {env_file}")


def process_ports(state_dir):
    ports = {}
    ports_dir = os.path.join(state_dir, "ports")
    if os.path.isdir(ports_dir):
        for name in os.listdir(ports_dir):
            if name.endswith("-metrics"):
                with open(os.path.join(ports_dir, name), encoding="utf-8") as f:
                    ports[f.read().strip()] = name[: -len("-metrics")]
    return ports


def labels_of(process):
    # "gateway", "ledger-paijat-hame": service, then the cell.
    service, _, cell = process.partition("-")
    labels = {"service": service, "process": process}
    if cell:
        labels["cell"] = cell
    return labels


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: local_targets.py LOCAL_ENV OUT_JSON")
    env_file, out = sys.argv[1], sys.argv[2]
    ports = process_ports(os.path.dirname(os.path.abspath(env_file)))
    targets = []
    for url in metrics_urls(env_file):
        parsed = urllib.parse.urlparse(url)
        if parsed.path not in ("", "/metrics"):
            raise SystemExit(f"local_targets.py: {url}: the path is not /metrics")
        process = ports.get(str(parsed.port))
        labels = labels_of(process) if process else {"service": "unknown"}
        targets.append({"targets": [parsed.netloc], "labels": labels})
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(targets, f, indent=2)
        f.write("\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
