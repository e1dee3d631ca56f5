#!/usr/bin/env bash
# End-to-end test of the monitoring configuration (ctest e2e_prometheus): the local suite
# (deploy/local/run.sh: two cells, the gateway, PostgreSQL) scraped by a real Prometheus server
# (Debian's /usr/bin/prometheus) running deploy/prometheus/prometheus-local.yml with the real rule
# files, every second, on a free loopback port with its own storage:
#   1. every process of TAHE_METRICS_URLS is a target (deploy/prometheus/local_targets.py) and
#      scraped: up == 1 for each, with the service and cell labels;
#   2. traffic through the gateway with tahectl (entries posted, trial balances, a chain
#      verification, reports, a refused call): grpc_server_handled_total of the ledgers and the
#      gateway's tahe_gateway_requests_total increase, and the recording rules produce series;
#   3. every recording and alerting rule evaluates without error (/api/v1/rules: health ok);
#   4. no alert fires. Expected in a healthy suite: none. Every alert waits (`for`) 2 minutes or
#      more, longer than this test, except TaheDbPoolAcquireTimeouts and TaheLedgerChainMismatch,
#      which fire at once but only on a pool timeout or a broken hash chain, neither of which a
#      healthy suite has. Pending alerts are printed, not failed on (a unary call slower than 1 s
#      on a loaded machine makes TaheGrpcLatencyHigh pending, which is what `for` is for);
#   5. tests/monitoring/metric_names.txt matches what the suite exposes: every family not marked
#      lazy is in Prometheus, and every series name Prometheus holds is a listed family (or a
#      recording rule, or Prometheus' own up/scrape_*/ALERTS).
#
#   TAHE_BUILD_DIR=build bash tests/monitoring/prometheus_e2e_test.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${TAHE_BUILD_DIR:-${root}/build}
tahectl=${build}/tools/tahectl/tahectl
prometheus_bin=${PROMETHEUS:-/usr/bin/prometheus}
names_file=${root}/tests/monitoring/metric_names.txt
# shellcheck source=tests/e2e/e2e_lib.sh
source "${root}/tests/e2e/e2e_lib.sh"
e2e_begin prometheus
WAIT_SECONDS=120

[[ -x "${tahectl}" ]] || fail "build tahectl in ${build}"
[[ -x "${prometheus_bin}" ]] || fail "no ${prometheus_bin} (apt install prometheus)"

step "the suite comes up (run.sh --detach, with the demo)"
e2e_start_suite
read -r -a urls <<<"$(local_env TAHE_METRICS_URLS | tr -d '"')"
((${#urls[@]} == 9)) || fail "TAHE_METRICS_URLS lists ${#urls[@]} processes, expected 9: ${urls[*]}"

step "Prometheus on a free loopback port, scraping every second with the real rules"
prom_dir=${state}/prometheus
mkdir -p "${prom_dir}/targets" "${prom_dir}/data"
ln -s "${root}/deploy/prometheus/rules" "${prom_dir}/rules"
python3 "${root}/deploy/prometheus/local_targets.py" "${state}/local.env" "${prom_dir}/targets/local.json"
# The checked-in local configuration, only faster.
sed -e 's/^\(  scrape_interval:\).*/\1 1s/' -e 's/^\(  scrape_timeout:\).*/\1 1s/' \
  -e 's/^\(  evaluation_interval:\).*/\1 1s/' \
  "${root}/deploy/prometheus/prometheus-local.yml" >"${prom_dir}/prometheus.yml"
grep -q '^  scrape_interval: 1s' "${prom_dir}/prometheus.yml" || fail "could not set scrape_interval"
# A free port below the ephemeral range (see deploy/local/run.sh), probed by binding it.
prom_port=$(python3 - <<'PY'
import socket
for port in range(19090, 19190):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
PY
)
[[ -n "${prom_port}" ]] || fail "no free port in 19090-19189"
prom=http://127.0.0.1:${prom_port}
"${prometheus_bin}" --config.file="${prom_dir}/prometheus.yml" \
  --storage.tsdb.path="${prom_dir}/data" --web.listen-address="127.0.0.1:${prom_port}" \
  >"${state}/logs/prometheus.log" 2>&1 </dev/null &
restarted+=($!) # e2e_cleanup stops it
ready() { curl -fsS "${prom}/-/ready" >/dev/null 2>&1; }
until_true 60 "Prometheus ready on ${prom}" ready

# query EXPR: the value of a one-element instant vector (or "none" when empty).
query() {
  curl -fsS --get --data-urlencode "query=$1" "${prom}/api/v1/query" | python3 -c '
import json, sys
d = json.load(sys.stdin)
r = d["data"]["result"]
print(r[0]["value"][1] if len(r) == 1 else ("none" if not r else "many"))'
}
# greater EXPR N: the value of EXPR exceeds N.
greater() {
  local v
  v=$(query "$1")
  [[ "${v}" != none && "${v}" != many ]] && python3 -c 'import sys; sys.exit(float(sys.argv[1]) <= float(sys.argv[2]))' "${v}" "$2"
}

# --- 1. Every process scraped --------------------------------------------------------------------
step "1. every process of TAHE_METRICS_URLS scraped: up == 1 (${#urls[@]} targets)"
all_up() { [[ "$(query 'count(up{job="tahe"} == 1)')" == "${#urls[@]}" ]]; }
until_true "${WAIT_SECONDS}" "all ${#urls[@]} targets up" all_up
targets=$(curl -fsS "${prom}/api/v1/targets?state=active")
python3 - "${targets}" "${urls[@]}" <<'PY' || fail "targets do not match TAHE_METRICS_URLS"
import json, sys
targets = json.loads(sys.argv[1])["data"]["activeTargets"]
urls = sys.argv[2:]
by_url = {t["scrapeUrl"]: t for t in targets}
if sorted(by_url) != sorted(urls):
    sys.exit(f"scrape URLs {sorted(by_url)} != TAHE_METRICS_URLS {sorted(urls)}")
services = {}
for url in urls:
    t = by_url[url]
    labels = t["labels"]
    if t["health"] != "up" or labels.get("job") != "tahe":
        sys.exit(f"{url}: health {t['health']}, labels {labels}, error {t.get('lastError')}")
    key = (labels.get("service"), labels.get("cell", ""))
    services[key] = services.get(key, 0) + 1
    print(f"  up: {url} service={labels.get('service')} cell={labels.get('cell', '-')}")
expected = {("gateway", "")} | {(s, c) for s in ("ledger", "payroll", "invoicing", "reporting")
                                 for c in ("paijat-hame", "pohjanmaa")}
if set(services) != expected or any(n != 1 for n in services.values()):
    sys.exit(f"service/cell labels {services}, expected one each of {sorted(expected)}")
PY

# --- 2. Traffic moves the counters ---------------------------------------------------------------
step "2. traffic through the gateway moves the counters"
ledger_before=$(query 'sum(grpc_server_handled_total{job="tahe",service="ledger"})')
gateway_before=$(query 'sum(tahe_gateway_requests_total{job="tahe"})')
echo "  before: ledger handled ${ledger_before}, gateway requests ${gateway_before}"
today=$(date +%F)
year=$(date +%Y)
for tenant in lahti vaasa; do
  T=("${tahectl}" --tenant "${tenant}" --timeout 30s)
  for i in 1 2 3; do
    "${T[@]}" ledger post --date "${today}" --description "Monitoring e2e ${i}" \
      --line "4400:1${i}.00:cost_centre=100" --line "1910:-1${i}.00" \
      --request-id "prom-e2e-${tenant}-${i}" >/dev/null || fail "${tenant}: post entry ${i}"
  done
  "${T[@]}" ledger trial-balance >/dev/null || fail "${tenant}: trial balance"
  "${T[@]}" ledger verify-chain >/dev/null || fail "${tenant}: verify-chain"
  "${T[@]}" report trial-balance --year "${year}" >/dev/null || fail "${tenant}: report trial-balance"
  # Refused by the ledger (INVALID_ARGUMENT): a caller's error, not a server error.
  if "${T[@]}" ledger post --date "${today}" --description "Unbalanced" --line "4400:1.00" \
    --line "1910:-2.00" --request-id "prom-e2e-${tenant}-bad" >/dev/null 2>&1; then
    fail "${tenant}: an unbalanced entry was accepted"
  fi
done
until_true "${WAIT_SECONDS}" "ledger grpc_server_handled_total above ${ledger_before}" \
  greater 'sum(grpc_server_handled_total{job="tahe",service="ledger"})' "${ledger_before}"
until_true "${WAIT_SECONDS}" "tahe_gateway_requests_total above ${gateway_before}" \
  greater 'sum(tahe_gateway_requests_total{job="tahe"})' "${gateway_before}"
for cell in paijat-hame pohjanmaa; do
  until_true "${WAIT_SECONDS}" "PostEntry of the ${cell} ledger counted" greater \
    "sum(grpc_server_handled_total{job=\"tahe\",service=\"ledger\",cell=\"${cell}\",grpc_method=\"PostEntry\"})" 0
done
until_true "${WAIT_SECONDS}" "the recording rule sees the ledger's calls" \
  greater 'sum(cell_service:grpc_server_handled:rate5m{service="ledger"})' 0
until_true "${WAIT_SECONDS}" "chain verifications counted" \
  greater 'sum(tahe_ledger_chain_verifications_total{job="tahe",result="ok"})' 0
echo "  after: ledger handled $(query 'sum(grpc_server_handled_total{job="tahe",service="ledger"})'), gateway requests $(query 'sum(tahe_gateway_requests_total{job="tahe"})')"

# --- 3. Every rule evaluates ---------------------------------------------------------------------
step "3. every recording and alerting rule evaluates without error"
rules_ok() {
  curl -fsS "${prom}/api/v1/rules" | python3 -c '
import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
pending = [r["name"] for r in rules if r.get("lastEvaluation", "").startswith("0001-")]
bad = [(r["name"], r.get("lastError")) for r in rules if r.get("health") != "ok"]
if pending or bad or len(rules) < 30:
    print(f"  not yet: {len(rules)} rules, unevaluated {pending[:5]}, unhealthy {bad}", file=sys.stderr)
    sys.exit(1)
print(f"  {len(rules)} rules in {len(groups)} groups, all health ok")'
}
until_true 60 "every rule evaluated with health ok" rules_ok

# --- 4. No alert fires ---------------------------------------------------------------------------
step "4. no alert is firing"
curl -fsS "${prom}/api/v1/alerts" | python3 -c '
import json, sys
alerts = json.load(sys.stdin)["data"]["alerts"]
for a in alerts:
    print("  " + a["state"] + ": " + json.dumps(a["labels"], sort_keys=True))
firing = [a for a in alerts if a["state"] == "firing"]
print(f"  {len(firing)} firing, {len(alerts) - len(firing)} pending")
sys.exit(1 if firing else 0)' || fail "alerts are firing"

# --- 5. metric_names.txt matches the suite ------------------------------------------------------
step "5. tests/monitoring/metric_names.txt matches what the suite exposes"
names=$(curl -fsS "${prom}/api/v1/label/__name__/values")
rules=$(curl -fsS "${prom}/api/v1/rules")
python3 - "${names_file}" "${names}" "${rules}" <<'PY' || fail "metric_names.txt is out of date"
import json, sys
path, names, rules = sys.argv[1], json.loads(sys.argv[2])["data"], json.loads(sys.argv[3])["data"]
recorded = {r["name"] for g in rules["groups"] for r in g["rules"] if r["type"] == "recording"}
families = {}
for line in open(path, encoding="utf-8"):
    line = line.split("#", 1)[0].split()
    if line:
        families[line[0]] = (line[1], len(line) > 2)
def samples(f, kind):
    return {"histogram": {f + "_bucket", f + "_sum", f + "_count"},
            "summary": {f, f + "_sum", f + "_count"}}.get(kind, {f})
present = set(names)
problems = []
known = set(recorded) | {"up", "ALERTS", "ALERTS_FOR_STATE"}
for f, (kind, lazy) in sorted(families.items()):
    known |= samples(f, kind)
    if not lazy and not samples(f, kind) <= present:
        problems.append(f"{f} ({kind}) is listed but the suite does not expose it")
for n in sorted(present - known):
    if not n.startswith("scrape_"):
        problems.append(f"{n} is exposed but not listed")
for p in problems:
    print(f"  {p}", file=sys.stderr)
if problems:
    print("  refresh: python3 tests/monitoring/scrape_families.py .tahe/local.env (see the file's header)",
          file=sys.stderr)
    sys.exit(1)
listed = sum(1 for f, (k, lazy) in families.items() if not lazy)
print(f"  {listed} families present, {len(families) - listed} lazy ones allowed, nothing unlisted")
PY

step "PASS"
