#!/usr/bin/env bash
# Checks the monitoring configuration offline (ctest monitoring_config):
#   1. promtool check config on deploy/prometheus/prometheus-local.yml and
#      prometheus-kubernetes.yml (Debian's promtool is built without Kubernetes discovery, so the
#      latter is checked with each kubernetes_sd_configs block replaced by a static stand-in;
#      its relabelling, rule files and everything else as written);
#   2. promtool check rules on deploy/prometheus/rules/*.yml;
#   3. promtool test rules on deploy/prometheus/tests/*.yml (every alert firing and not firing);
#   4. tests/monitoring/check_monitoring.py: the Grafana dashboards (JSON, panel ids, targets, the
#      PromQL of every expr through promtool), metric names against metric_names.txt, severity,
#      annotations and runbook anchors, a firing and a quiet unit test per alert.
#
#   bash tests/monitoring/check_config.sh      # needs promtool (Debian package prometheus) and python3
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
prom=${root}/deploy/prometheus
promtool=${PROMTOOL:-promtool}
command -v "${promtool}" >/dev/null || { echo "check_config: promtool not found (apt install prometheus)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tahe-monitoring.XXXXXX")
trap 'rm -rf "${tmp}"' EXIT

echo "--- promtool check config prometheus-local.yml"
mkdir -p "${tmp}/local/targets"
cp "${prom}/prometheus-local.yml" "${tmp}/local/"
ln -s "${prom}/rules" "${tmp}/local/rules"
echo '[{"targets": ["127.0.0.1:9464"], "labels": {"service": "ledger", "cell": "paijat-hame"}}]' \
  >"${tmp}/local/targets/local.json"
"${promtool}" check config "${tmp}/local/prometheus-local.yml"

echo "--- promtool check config prometheus-kubernetes.yml (discovery blocks stood in for)"
mkdir -p "${tmp}/k8s"
ln -s "${prom}/rules" "${tmp}/k8s/rules"
python3 - "${prom}/prometheus-kubernetes.yml" "${tmp}/k8s/prometheus.yml" <<'PY'
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
out, i, replaced = [], 0, 0
while i < len(lines):
    m = re.match(r"^(\s*)(- )?kubernetes_sd_configs:\s*$", lines[i])
    if not m:
        out.append(lines[i]); i += 1; continue
    indent = len(m.group(1)) + (2 if m.group(2) else 0)
    i += 1
    def inside(line):
        this = len(line) - len(line.lstrip())
        return line.strip() == "" or this > indent or (this == indent and line.lstrip().startswith("- "))
    while i < len(lines) and inside(lines[i]):
        i += 1
    out += [m.group(1) + (m.group(2) or "") + "static_configs:",
            " " * indent + "  - targets: ['k8s-sd-stand-in:9464']"]
    replaced += 1
if replaced != 2:
    sys.exit(f"expected 2 kubernetes_sd_configs blocks (scrape and alerting), found {replaced}")
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(out))
PY
"${promtool}" check config "${tmp}/k8s/prometheus.yml"

echo "--- promtool check rules"
"${promtool}" check rules "${prom}"/rules/*.yml

echo "--- promtool test rules"
"${promtool}" test rules "${prom}"/tests/*.yml

echo "--- check_monitoring.py"
python3 "${root}/tests/monitoring/check_monitoring.py" --promtool "${promtool}"
echo "check_config: OK"
