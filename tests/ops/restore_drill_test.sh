#!/usr/bin/env bash
# The restore drill, as a test: back up a running Tahe suite with deploy/ops/backup.sh, lose the
# whole PostgreSQL cluster, restore into a fresh, empty one with deploy/ops/restore.sh, start the
# services on it unchanged, and check through the gateway that nothing was lost and everything
# still works.
#
#   bash tests/ops/restore_drill_test.sh          # TAHE_BUILD_DIR=build by default; ~3-5 min
#
# Steps (real processes: deploy/local/run.sh with two cells, the gateway and PostgreSQL; every
# business call through the gateway with tahectl):
#   1. the suite with its demo, plus a pay run of lahti (posted to the ledger through the outbox),
#      invoices of vaasa in the other cell (one to a person, whose identity code is kept only as a
#      keyed hash), a budget of lahti in reporting, an API key of lahti and a revoked one;
#   2. the facts, recorded: every organisation's ledger trial balance, entries and hash-chain
#      verification, reporting's trial balance (caught up with the ledger), the pay runs and
#      employees, the invoices and customers, the budget report, the organisations and API keys;
#   3. backup.sh of every database (manifest: 9 databases, each with its schema migration;
#      restore.sh --check passes);
#   4. disaster: the suite is stopped and its cluster directory deleted; a fresh, empty cluster is
#      created on the same port (no Tahe role, no Tahe database);
#   5. a damaged copy of the backup is refused before anything is created; restore.sh restores
#      every database (it checks owners, privileges, row-level security and row counts against
#      the backup itself); a second restore.sh is refused (the databases exist); checked
#      independently here: every table with a tenant_id is owned by tahe_owner with row-level
#      security enabled and forced and a policy, the login roles are plain members of their
#      application roles;
#   6. run.sh --detach --no-seed starts the services on the restored databases (their migrations
#      find nothing to do); the facts are recorded again and must equal those of step 2;
#   7. row-level security holds for the application roles: as tahe_ledger, tahe_invoicing and
#      tahe_payroll with one organisation set, another organisation's rows are invisible, and the
#      ledger's journal cannot be updated;
#   8. the suite works on: a new entry posted (the chain grows by one and verifies, reporting
#      follows it), a new invoice issued and posted with the next number, the revoked key still
#      refused and lahti's own key still accepted, and the employees and customers files imported
#      again are replays (the identity-code hash keys, kept outside the backup, still fit).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${TAHE_BUILD_DIR:-${root}/build}
tahectl=${build}/tools/tahectl/tahectl
# shellcheck source=tests/pg/lib.sh
source "${root}/tests/pg/lib.sh"
# shellcheck source=tests/e2e/reporting_lib.sh
source "${root}/tests/e2e/reporting_lib.sh"
# shellcheck source=tests/e2e/e2e_lib.sh
source "${root}/tests/e2e/e2e_lib.sh"
e2e_begin restore-drill
WAIT_SECONDS=180
# step, with the seconds since the start (a slow step on a loaded machine shows up in the log).
drill_step() { step "$* (at ${SECONDS} s)"; }
TENANTS=(lahti phhyky vaasa seinajoki)

[[ -x "${tahectl}" ]] || fail "build tahectl in ${build}"

# --- 1. The suite and its data -------------------------------------------------------------------
drill_step "1. the suite with the demo, a pay run, invoices, a budget and API keys"
e2e_start_suite
year=$(date +%Y)
today=$(date +%F)
L=("${tahectl}" --tenant lahti --timeout 60s)
V=("${tahectl}" --tenant vaasa --timeout 60s)

# lahti: a pay run of November 2026 (a period with a built-in rate table), posted to the ledger.
"${L[@]}" ledger open-period 2026-11 --request-id drill-open >/dev/null 2>&1 || true
cat >"${state}/employees.csv" <<'CSV'
employee_number,first_name,last_name,personal_identity_code,iban,start_date,cost_centre,salary_basis,monthly_salary,hourly_rate,pension_scheme,union_fee_percent
E1,Aino,Virtanen,150680-1234,FI2112345600000785,2020-01-01,100,MONTHLY,3500.00,,KEVA,1.5
E2,Eero,Korhonen,010594Y9032,FI5542345670000081,2021-03-01,200,HOURLY,,22.10,TYEL,0
CSV
cat >"${state}/items.csv" <<'CSV'
item_id,employee_number,period,kind,quantity,unit_rate,amount,description
i1,E2,2026-11,HOURLY_WORK,150,22.10,,Tunnit
i2,E1,2026-11,MEAL_BENEFIT,,,150.00,Ravintoetu
CSV
"${L[@]}" payroll settings set --debtor-name "Lahden kaupunki" \
  --debtor-iban FI2112345600000785 --request-id drill-payroll-settings >/dev/null ||
  fail "payroll settings"
"${L[@]}" payroll employees import "${state}/employees.csv" >/dev/null || fail "employees import"
"${L[@]}" payroll items import "${state}/items.csv" >/dev/null || fail "items import"
"${L[@]}" payroll run create --period 2026-11 --payment-date 2026-11-30 --request-id drill-run \
  >/dev/null || fail "run create"
"${L[@]}" payroll run calculate 2026-11-1 --request-id drill-calc >/dev/null 2>&1 ||
  fail "run calculate"
"${L[@]}" payroll run approve 2026-11-1 --wait-posted --wait-timeout "${WAIT_SECONDS}s" \
  --request-id drill-approve >/dev/null 2>&1 || fail "run approve"

# vaasa (the other cell): invoicing settings, a person and an organisation, an invoice issued.
cat >"${state}/settings.json" <<'JSON'
{"sellerName": "Vaasan kaupunki", "businessId": "0209602-6",
 "address": {"street": "Kauppapuistikko 11", "postalCode": "65100", "city": "Vaasa"},
 "iban": "FI2112345600000785", "referencePrefix": "34", "reminderFeeCents": "500"}
JSON
cat >"${state}/customers.csv" <<'CSV'
customer_number,kind,name,business_id,personal_identity_code,street,postal_code,city,delivery_channel
C-1,PERSON,Matti Meikäläinen,,131052-308T,Kauppakatu 1,65100,Vaasa,PAPER
ORG-1,ORGANISATION,Vaasan sairaanhoitopiiri,0209602-6,,Hietalahdenkatu 2,65130,Vaasa,PAPER
CSV
cat >"${state}/products.csv" <<'CSV'
code,name,unit,unit_price,vat_category,sales_account,cost_centre
KOTIHOITO,Kotihoito,h,40.00,GENERAL,3000,200
CSV
"${V[@]}" invoicing settings set --file "${state}/settings.json" --request-id drill-inv-settings \
  >/dev/null || fail "invoicing settings"
"${V[@]}" invoicing customers import --file "${state}/customers.csv" >/dev/null ||
  fail "customers import"
"${V[@]}" invoicing products import --file "${state}/products.csv" >/dev/null ||
  fail "products import"
# issue_invoice ID CUSTOMER: created and issued today, waited for until posted; its JSON in
# ${state}/ID.json.
issue_invoice() {
  "${V[@]}" invoicing invoice create --invoice-id "$1" --customer "$2" --delivery-date "${today}" \
    --line KOTIHOITO:2.5 --request-id "drill-create-$1" >/dev/null || fail "create invoice $1"
  "${V[@]}" --json invoicing invoice issue "$1" --wait-posted --wait-timeout "${WAIT_SECONDS}s" \
    --request-id "drill-issue-$1" >"${state}/$1.json" 2>/dev/null || fail "issue invoice $1"
}
issue_invoice DRILL-1 C-1
issue_invoice DRILL-2 ORG-1

# lahti: a budget (reporting's own data, not rebuilt from the ledger).
printf 'account,cost_centre,month,amount\n4300,100,%s-01,1000.00\n3100,100,%s-02,-2500.00\n' \
  "${year}" "${year}" >"${state}/budget.csv"
"${L[@]}" report budget upload --file "${state}/budget.csv" --request-id drill-budget >/dev/null ||
  fail "budget upload"

# API keys: one of lahti's, and one revoked.
"${tahectl}" admin keys issue --role ledger.read --organisation lahti \
  --key-file "${state}/lahti.key" --request-id drill-key-lahti >/dev/null || fail "issue lahti's key"
revoked_id=$("${tahectl}" admin keys issue --role ledger.read --organisation lahti \
  --key-file "${state}/revoked.key" --request-id drill-key-revoked | grep -oE '[0-9a-f]{12}' |
  head -n 1) || fail "issue the key to revoke"
"${tahectl}" admin keys revoke "${revoked_id}" --request-id drill-revoke >/dev/null ||
  fail "revoke ${revoked_id}"

# --- 2. The facts ----------------------------------------------------------------------------------
# record_facts DIR: everything the drill compares, as JSON files in DIR.
record_facts() {
  local dir=$1 tenant head
  mkdir -p "${dir}"
  for tenant in "${TENANTS[@]}"; do
    local T=("${tahectl}" --tenant "${tenant}" --timeout 60s --json)
    "${T[@]}" ledger trial-balance --as-of "${year}-12-31" >"${dir}/${tenant}.ledger-trial-balance.json" ||
      fail "ledger trial-balance of ${tenant}"
    "${T[@]}" ledger entries >"${dir}/${tenant}.entries.json" || fail "ledger entries of ${tenant}"
    "${T[@]}" ledger verify-chain >"${dir}/${tenant}.chain.json" ||
      fail "the hash chain of ${tenant} does not verify: $(cat "${dir}/${tenant}.chain.json")"
    head=$(json_get "$(cat "${dir}/${tenant}.chain.json")" "d['entriesChecked']")
    wait_reporting "${tenant}" "${head}"
    "${T[@]}" report trial-balance --year "${year}" --min-sequence "${head}" \
      >"${dir}/${tenant}.report-trial-balance.json" || fail "report trial-balance of ${tenant}"
  done
  "${L[@]}" --json payroll runs >"${dir}/lahti.pay-runs.json" || fail "payroll runs"
  "${L[@]}" --json payroll employees list >"${dir}/lahti.employees.json" || fail "employees"
  "${L[@]}" --json report budget --year "${year}" >"${dir}/lahti.budget.json" || fail "budget"
  "${V[@]}" --json invoicing invoice list >"${dir}/vaasa.invoices.json" || fail "invoice list"
  "${V[@]}" --json invoicing customers list >"${dir}/vaasa.customers.json" || fail "customers"
  "${tahectl}" --json admin orgs list >"${dir}/organisations.json" || fail "admin orgs list"
  "${tahectl}" --json admin keys list --include-revoked >"${dir}/keys.json" || fail "keys list"
}

drill_step "2. the facts before the disaster"
record_facts "${state}/before"
# What the facts hold is worth checking once: a posted pay run, two invoices, entries everywhere.
python3 - "${state}/before" "${TENANTS[@]}" <<'PY' || fail "the facts before are not what the drill set up"
import json, sys
d, tenants = sys.argv[1], sys.argv[2:]
load = lambda name: json.load(open(f"{d}/{name}"))
for t in tenants:
    chain = load(f"{t}.chain.json")
    assert chain["ok"] and int(chain["entriesChecked"]) >= 10, (t, chain)
    assert len(load(f"{t}.entries.json")["entries"]) == int(chain["entriesChecked"]), t
runs = load("lahti.pay-runs.json")["payRuns"]
assert [r["status"] for r in runs] == ["PAY_RUN_STATUS_POSTED"], runs
assert len(load("vaasa.invoices.json")["invoices"]) == 2
assert any(k["revokedAt"] for k in load("keys.json")["keys"])
print("before: " + ", ".join(f"{t} {load(t + '.chain.json')['entriesChecked']} entries" for t in tenants)
      + ", 1 pay run posted, 2 invoices")
PY

# --- 3. The backup -------------------------------------------------------------------------------
drill_step "3. backup.sh of every database"
backup="${state}/backup"
bash "${root}/deploy/ops/backup.sh" --local-suite "${state}" --out "${backup}" \
  >"${state}/backup.out" 2>&1 || {
  cat "${state}/backup.out" >&2
  fail "backup.sh failed"
}
databases=$(awk -F '\t' '!/^#/ && $1 != "database"' "${backup}/manifest.tsv" | wc -l)
[[ "${databases}" == 9 ]] || fail "the manifest lists ${databases} databases, not 9"
awk -F '\t' '!/^#/ && $1 != "database" && !($6 >= 1) {bad = 1; print "no migration: " $0}
  END {exit bad}' "${backup}/manifest.tsv" >&2 || fail "a database without its migration version"
bash "${root}/deploy/ops/restore.sh" --check "${backup}" || fail "restore.sh --check"

# --- 4. The disaster ------------------------------------------------------------------------------
drill_step "4. the suite stopped and its PostgreSQL cluster deleted; a fresh, empty cluster"
bash "${root}/deploy/local/run.sh" --stop >/dev/null 2>&1 || fail "run.sh --stop"
pg_dir="${state}/pg"
pg_port=$(tahe_pg_configured_port "${pg_dir}")
rm -rf "${pg_dir}"
tahe_pg_prepare_dir "${pg_dir}"
tahe_pg_init "${pg_dir}" --auth-local=trust --auth-host=scram-sha-256
tahe_port_in_use "${pg_port}" && pg_port=$(tahe_find_free_port "${pg_port}")
tahe_pg_write_conf "${pg_dir}" "${pg_port}"
touch "${state}/logs/postgres.log"
if ((EUID == 0)); then
  chown postgres:postgres "${state}/logs/postgres.log"
fi
tahe_pg_start "${pg_dir}" "${state}/logs/postgres.log" || fail "the fresh cluster did not start"
su_sql() { tahe_psql "${pg_dir}" "${pg_port}" -At "$@"; }
[[ $(su_sql -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'tahe\_%'") == 0 &&
  $(su_sql -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'tahe\_%' AND NOT rolsuper") == 0 ]] ||
  fail "the fresh cluster is not empty"

# --- 5. The restore -------------------------------------------------------------------------------
drill_step "5. a damaged backup refused; restore.sh into the fresh cluster"
cp -r "${backup}" "${state}/damaged"
printf 'X' | dd of="${state}/damaged/tahe_paijat_hame_ledger.dump" bs=1 seek=200 conv=notrunc \
  2>/dev/null
if out=$(bash "${root}/deploy/ops/restore.sh" --local-suite "${state}" "${state}/damaged" 2>&1); then
  fail "a damaged backup was restored: ${out}"
fi
grep -q 'checksums do not match' <<<"${out}" || fail "the damaged backup: ${out}"
[[ $(su_sql -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'tahe\_%'") == 0 ]] ||
  fail "a refused restore created databases"

bash "${root}/deploy/ops/restore.sh" --local-suite "${state}" "${backup}" \
  >"${state}/restore.out" 2>&1 || {
  cat "${state}/restore.out" >&2
  fail "restore.sh failed"
}
cat "${state}/restore.out"
[[ $(grep -c 'restored (migration .*, catalog identical, [0-9]* rows' "${state}/restore.out") == 9 ]] ||
  fail "not every database was restored and checked"
if out=$(bash "${root}/deploy/ops/restore.sh" --local-suite "${state}" "${backup}" 2>&1); then
  fail "a second restore over the restored databases went ahead"
fi
grep -q 'exists' <<<"${out}" || fail "the second restore: ${out}"

# Independently of restore.sh's own comparison: the model the services rely on (the cells'
# databases; the gateway's directory is not per organisation).
while IFS=$'\t' read -r db; do
  bad=$(su_sql -d "${db}" <<'SQL'
SELECT count(*) FILTER (WHERE NOT (c.relrowsecurity AND c.relforcerowsecurity
                                   AND pg_get_userbyid(c.relowner) = 'tahe_owner'
                                   AND EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid)))
       || ' of ' || count(*)
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
 WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
   AND c.relname <> 'outbox_pending';  -- ids only, read across tenants by the relay (by design)
SQL
  )
  [[ "${bad}" =~ ^0\ of\ [1-9] ]] ||
    fail "${db}: ${bad} tenant tables lack tahe_owner, forced row-level security or a policy"
done < <(su_sql -c "SELECT datname FROM pg_database
                    WHERE datname LIKE 'tahe\_%' AND datname <> 'tahe_gateway' ORDER BY 1")
for service in ledger payroll invoicing reporting gateway; do
  [[ $(su_sql -c "SELECT r.rolcanlogin AND NOT r.rolsuper AND NOT r.rolbypassrls
                         AND pg_has_role(r.oid, 'tahe_${service}_app', 'USAGE')
                         AND NOT a.rolcanlogin AND NOT a.rolbypassrls
                    FROM pg_roles r, pg_roles a
                   WHERE r.rolname = 'tahe_${service}' AND a.rolname = 'tahe_${service}_app'") == t ]] ||
    fail "the roles tahe_${service} / tahe_${service}_app were not restored as they were"
done

# --- 6. The services on the restored databases ------------------------------------------------------
drill_step "6. the services start on the restored databases; the same facts"
bash "${root}/deploy/local/run.sh" --detach --no-build --no-seed >"${state}/launcher2.out" 2>&1 || {
  cat "${state}/launcher2.out" >&2
  fail "run.sh --detach --no-seed on the restored cluster failed"
}
record_facts "${state}/after"
diff -ru "${state}/before" "${state}/after" >&2 || fail "the facts differ after the restore"
echo "the facts after the restore equal those before ($(find "${state}/after" -type f | wc -l) files)"

# --- 7. Row-level security for the application roles ----------------------------------------------
drill_step "7. row-level security: an application role sees its organisation's rows only"
# as_role DB ROLE TENANT SQL: SQL's single value, as ROLE with tahe.tenant set (what the services do).
as_role() {
  su_sql -d "$1" -c "SET ROLE $2" -c "SELECT set_config('tahe.tenant', '$3', false)" -c "$4" |
    tail -n 1
}
all_sql() { su_sql -d "$1" -c "$2"; }
phhyky_entries=$(all_sql tahe_paijat_hame_ledger "SELECT count(*) FROM entries WHERE tenant_id = 'phhyky'")
lahti_entries=$(all_sql tahe_paijat_hame_ledger "SELECT count(*) FROM entries WHERE tenant_id = 'lahti'")
((phhyky_entries > 0 && lahti_entries > 0)) || fail "no entries of phhyky and lahti in the cell"
[[ $(as_role tahe_paijat_hame_ledger tahe_ledger lahti \
  "SELECT count(*) FILTER (WHERE tenant_id = 'phhyky') || ' ' || count(*) FROM entries") == \
  "0 ${lahti_entries}" ]] || fail "tahe_ledger as lahti does not see exactly lahti's entries"
if out=$(as_role tahe_paijat_hame_ledger tahe_ledger lahti \
  "UPDATE entries SET description = description" 2>&1); then
  fail "tahe_ledger updated the journal: ${out}"
fi
grep -q 'permission denied' <<<"${out}" || fail "updating the journal: ${out}"
[[ $(as_role tahe_pohjanmaa_invoicing tahe_invoicing seinajoki "SELECT count(*) FROM invoices") == 0 &&
  $(as_role tahe_pohjanmaa_invoicing tahe_invoicing vaasa "SELECT count(*) FROM invoices") == 2 ]] ||
  fail "tahe_invoicing's view of vaasa's invoices is wrong"
[[ $(as_role tahe_paijat_hame_payroll tahe_payroll phhyky "SELECT count(*) FROM employees") == 0 &&
  $(as_role tahe_paijat_hame_payroll tahe_payroll lahti "SELECT count(*) FROM employees") == 2 ]] ||
  fail "tahe_payroll's view of lahti's employees is wrong"

# --- 8. The suite works on ------------------------------------------------------------------------
drill_step "8. a new entry, a new invoice, the keys"
before_head=$(json_get "$(cat "${state}/after/lahti.chain.json")" "d['entriesChecked']")
"${L[@]}" ledger post --date "${today}" --description "After the restore" --line "4400:12.34" \
  --line "1910:-12.34" --request-id drill-after >/dev/null || fail "post after the restore"
chain=$("${L[@]}" --json ledger verify-chain) || fail "the chain after a new entry: ${chain}"
[[ $(json_get "${chain}" "d['entriesChecked']") == $((before_head + 1)) ]] ||
  fail "the chain did not grow by one: ${chain}"
wait_reporting lahti $((before_head + 1))
issue_invoice DRILL-3 C-1
python3 - "${state}/DRILL-1.json" "${state}/DRILL-3.json" <<'PY' ||
import json, re, sys
first, third = (json.load(open(p)) for p in sys.argv[1:])
n = lambda inv: int(re.search(r"(\d+)$", inv["displayNumber"]).group(1))
assert third["posted"], third
assert n(third) == n(first) + 2, (first["displayNumber"], third["displayNumber"])
print(f"invoice {third['displayNumber']} issued and posted after {first['displayNumber']}")
PY
  fail "the invoice after the restore is not the next number"
if out=$(TAHE_API_KEY='' "${tahectl}" --api-key-file "${state}/revoked.key" ledger accounts 2>&1); then
  fail "the revoked key works again after the restore"
fi
grep -q UNAUTHENTICATED <<<"${out}" || fail "the revoked key: ${out}"
TAHE_API_KEY='' "${tahectl}" --api-key-file "${state}/lahti.key" ledger accounts >/dev/null ||
  fail "lahti's key no longer works after the restore"
# The identity-code hash keys (secrets, not in the backup) still fit the restored data: the same
# files imported again are replays, whose request fingerprints hold the codes' keyed hashes.
"${L[@]}" payroll employees import "${state}/employees.csv" >/dev/null 2>&1 ||
  fail "re-importing the employees after the restore was refused"
"${V[@]}" invoicing customers import --file "${state}/customers.csv" >/dev/null 2>&1 ||
  fail "re-importing the customers after the restore was refused"
echo "restore drill: passed"
