#!/usr/bin/env bash
# End-to-end test of invoicing with real processes (deploy/local/run.sh: two cells with ledger,
# payroll and invoicing, the gateway, PostgreSQL), driven by tahectl through the gateway with the
# demo operator key, as the organisation lahti (region paijat-hame):
#   1. invoicing settings, customers (a person with a valid henkilötunnus, an organisation with a
#      Y-tunnus) and products imported from files; the ledger (chart and cost centres from the
#      demo seed) gets the periods of 2025 opened;
#   2. an invoice created and issued, waited for until posted: lahti's ledger holds one balanced
#      entry for it (receivables = gross, sales = net, VAT payable = VAT);
#   3. a camt.054 file paying it by its RF reference (written by tahe_e2e_camt054, valid against
#      the schema) imported twice with the same command and once more under a fresh request id:
#      one payment, the invoice PAID, the receivable back to 0 in the ledger;
#   4. a reminder round on an invoice 30 days overdue in 2025 H1 charges the fee 5.00 and the
#      hand-computed interest 8.63, posted to the ledger; a billing run issues its drafts with
#      one summarised posting and reports the draft it rejected by row and column;
#   5. a bad customer (bad henkilötunnus), a bad line (unknown product) and a bad file (not XML)
#      are INVALID_ARGUMENT through the gateway naming the field, and no row of invoicing_db
#      changes (counted with psql as the owner);
#   6. the cell's ledger is killed, an invoice issued (its posting waits in the outbox, a
#      delivery attempt fails), invoicing killed with SIGKILL, both restarted with their own
#      command lines: the invoice is posted exactly once, and so is every other invoicing entry;
#   7. the cell's reporting, which followed the ledger throughout (and its restart), gives lahti's
#      2025 reports equal to its ledger (tests/e2e/reporting_check.py), and its receivables
#      ageing equals invoicing's on three dates.
# The other organisation of the region (phhyky) and the other region's (vaasa) ledgers are
# unchanged throughout. Every wait polls with a generous deadline (a loaded 2-core machine).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${TAHE_BUILD_DIR:-${root}/build}
tahectl=${build}/tools/tahectl/tahectl
camt054=${build}/tests/e2e/tahe_e2e_camt054
xsd=${TAHE_CAMT054_XSD:-${root}/third_party/schemas/camt/camt.054.001.02.xsd}
# shellcheck source=tests/pg/lib.sh
source "${root}/tests/pg/lib.sh"
# shellcheck source=tests/e2e/reporting_lib.sh
source "${root}/tests/e2e/reporting_lib.sh"
# shellcheck source=tests/e2e/e2e_lib.sh
source "${root}/tests/e2e/e2e_lib.sh"
e2e_begin invoicing
WAIT_SECONDS=180

[[ -x "${tahectl}" && -x "${camt054}" ]] || fail "build tahectl and tahe_e2e_camt054 in ${build}"

step "the suite comes up (run.sh --detach)"
e2e_start_suite
T=("${tahectl}" --tenant lahti --timeout 60s)
I=("${T[@]}" invoicing)

# psql as the owner of the databases, with the password from local.env.
pg_password=$(grep '^TAHE_PG_PASSWORD=' "${state}/local.env" | cut -d= -f2-)
pg_port=$(grep '^TAHE_PG_PORT=' "${state}/local.env" | cut -d= -f2-)
# Row-level security is forced on the owner too: the session names lahti as its tenant.
owner_sql() {
  PGPASSWORD=${pg_password} "${TAHE_PG_BINDIR}/psql" -h 127.0.0.1 -p "${pg_port}" -U tahe_owner \
    -d tahe_paijat_hame_invoicing -XAtqc "SET tahe.tenant = 'lahti'; $1"
}
row_counts() {
  local table
  for table in settings customers products price_lists invoices invoice_keys invoice_lines \
    invoice_series billing_runs payments payment_allocations reminders outbox idempotency; do
    echo "${table} $(owner_sql "SELECT count(*) FROM ${table}")"
  done
}

# net TENANT-ARGS... PERIOD ACCOUNT: the account's net (debit - credit) in the period, 0 if none.
net_in() {
  local period=$1 account=$2
  json_get "$("${T[@]}" --json ledger trial-balance --period "${period}")" \
    "sum(int(r.get('netMinor', 0)) for r in d.get('rows', []) if r['account'] == '${account}')"
}
# expect_net PERIOD ACCOUNT CENTS: the ledger shows it now (no waiting).
expect_net() {
  local got
  got=$(net_in "$1" "$2")
  [[ "${got}" == "$3" ]] || fail "account $2 in $1: ${got}, want $3"
}
net_is() { [[ "$(net_in "$1" "$2")" == "$3" ]]; }
entries_count() {
  json_get "$("${tahectl}" --tenant "$1" --timeout 60s --json ledger entries)" \
    "len(d.get('entries', []))"
}
# invoicing_entries REFERENCE: lahti's ledger entries from invoicing with that source reference.
invoicing_entries() {
  json_get "$("${T[@]}" --json ledger entries)" \
    "len([e for e in d.get('entries', []) if e.get('source', {}).get('system') == 'invoicing' and e['source'].get('reference') == '$1'])"
}
invoice_field() { json_get "$("${I[@]}" --json invoice show "$1")" "$2"; }
invoice_posted() { [[ "$(invoice_field "$1" "d['posted']")" == True ]]; }

phhyky_before=$(entries_count phhyky)
vaasa_before=$(entries_count vaasa)
((phhyky_before > 0 && vaasa_before > 0)) || fail "the demo seed left no entries"

# --- 1. Set-up ---------------------------------------------------------------------------------
step "1. ledger periods, invoicing settings, customers and products"
for period in 2025-02 2025-03 2025-04 2025-05 2025-06; do
  "${T[@]}" ledger open-period "${period}" --request-id "e2e-open-${period}" >/dev/null ||
    fail "open period ${period}"
done
cat >"${state}/settings.json" <<'JSON'
{"sellerName": "Lahden kaupunki", "businessId": "0135202-4",
 "address": {"street": "Harjukatu 31", "postalCode": "15100", "city": "Lahti"},
 "iban": "FI2112345600000785", "einvoiceAddress": "003701352024",
 "einvoiceOperator": "003721291126", "referencePrefix": "12", "reminderFeeCents": "500"}
JSON
"${I[@]}" settings set --file "${state}/settings.json" --request-id e2e-settings >/dev/null ||
  fail "settings set"
settings=$("${I[@]}" --json settings show) || fail "settings show"
[[ $(json_get "${settings}" "d['bic'] != '' and d['paymentTermsDays'] == 14") == True ]] ||
  fail "the service did not complete the settings: ${settings}"

cat >"${state}/customers.csv" <<'CSV'
customer_number,kind,name,business_id,personal_identity_code,street,postal_code,city,delivery_channel,einvoice_address,einvoice_operator
C-1,PERSON,Matti Meikäläinen,,131052-308T,Kauppakatu 1,15140,Lahti,PAPER,,
ORG-1,ORGANISATION,Päijät-Hämeen hyvinvointialue,3221318-2,,Keskussairaalankatu 7,15850,Lahti,EINVOICE,003732213182,003721291126
CSV
out=$("${I[@]}" customers import --file "${state}/customers.csv") || fail "customers import: ${out}"
grep -q ': 2 customers: 2 saved, 0 refused$' <<<"${out}" || fail "customers import said: ${out}"
customers=$("${I[@]}" --json customers list) || fail "customers list"
[[ $(json_get "${customers}" "[c['hasPersonalIdentityCode'] for c in d['customers'] if c['customerNumber'] == 'C-1']") == "[True]" ]] ||
  fail "C-1 has no identity code on file: ${customers}"
! grep -q 131052 <<<"${customers}" || fail "customers list shows an identity code"

cat >"${state}/products.csv" <<'CSV'
code,name,unit,unit_price,vat_category,sales_account,cost_centre
KOTIHOITO,Kotihoito,h,40.00,GENERAL,3000,200
ATERIA,Ateriapalvelu,kpl,8.50,REDUCED,3000,400
PALVELU,Sosiaalipalvelu,kk,1000.00,EXEMPT,3000,400
CSV
out=$("${I[@]}" products import --file "${state}/products.csv") || fail "products import: ${out}"
grep -q ': 3 products: 3 saved, 0 refused$' <<<"${out}" || fail "products import said: ${out}"

# --- 2. An invoice issued and posted -----------------------------------------------------------
step "2. an invoice issued and posted: receivables = gross, sales = net, VAT payable = VAT"
"${I[@]}" invoice create --invoice-id E2E-A --customer ORG-1 --delivery-date 2025-02-03 \
  --line KOTIHOITO:2.5 --line ATERIA:4 --request-id e2e-create-a >/dev/null || fail "create A"
a=$("${I[@]}" --json invoice issue E2E-A --date 2025-02-10 --wait-posted --wait-timeout 180s \
  --request-id e2e-issue-a) || fail "issue A"
# February 2025: 2.5 h × 40.00 = 100.00 at 25.5 % = 25.50; 4 × 8.50 = 34.00 at 14 % = 4.76.
# Net 134.00, VAT 30.26, gross 164.26.
[[ $(json_get "${a}" "(d['netCents'], d['vatCents'], d['grossCents'], d['posted'])") == \
  "('13400', '3026', '16426', True)" ]] || fail "invoice A: ${a}"
# Prefix 12, invoice 1 padded to 12001; 7-3-1 from the right: 7 + 0 + 0 + 14 + 3 = 24 -> 6.
[[ $(json_get "${a}" "(d['displayNumber'], d['reference'], d['dueDate'])") == \
  "('L-1', '120016', '2025-02-24')" ]] || fail "invoice A's number, reference or due date: ${a}"
number_a=L-1
rf_a=$(json_get "${a}" "d['rfReference']")
[[ $(invoicing_entries "${number_a}") == 1 ]] || fail "not one ledger entry for ${number_a}"
expect_net 2025-02 1700 16426
expect_net 2025-02 3000 -13400
expect_net 2025-02 2850 -3026
"${I[@]}" invoice render E2E-A --format finvoice --out "${state}/a.xml" >/dev/null ||
  fail "render A"
grep -q '164,26' "${state}/a.xml" || fail "the Finvoice of A lacks its gross 164,26"

# --- 3. A camt.054 file pays it ----------------------------------------------------------------
step "3. a camt.054 file paying it, imported twice and under a fresh request id"
"${camt054}" FI2112345600000785 E2E-CAMT-1 2025-02-20 "16426:${rf_a}:E2E-BANK-1" \
  >"${state}/camt054.xml" || fail "tahe_e2e_camt054"
xmllint --noout --schema "${xsd}" "${state}/camt054.xml" 2>"${state}/xmllint.out" ||
  fail "the camt.054 file does not validate: $(cat "${state}/xmllint.out")"
first=$("${I[@]}" --json payments import --file "${state}/camt054.xml") || fail "import 1"
[[ $(json_get "${first}" "(d['transactions'], d['matched'], d['duplicates'])") == \
  "('1', '1', '0')" ]] || fail "first import: ${first}"
again=$("${I[@]}" --json payments import --file "${state}/camt054.xml") || fail "import 2"
[[ "${again}" == "${first}" ]] || fail "the same command again answered otherwise: ${again}"
fresh=$("${I[@]}" --json payments import --file "${state}/camt054.xml" \
  --request-id e2e-camt-fresh) || fail "import 3"
[[ $(json_get "${fresh}" "(d['matched'], d['unmatched'], d['duplicates'])") == \
  "('0', '0', '1')" ]] || fail "import under a fresh request id: ${fresh}"
[[ $(json_get "$("${I[@]}" --json payments list)" "len(d['payments'])") == 1 ]] ||
  fail "not one payment listed"
[[ $(owner_sql "SELECT count(*) FROM payments") == 1 ]] || fail "not one payment row"
[[ $(invoice_field E2E-A "d['status']") == INVOICE_STATUS_PAID ]] || fail "A is not PAID"
until_true "${WAIT_SECONDS}" "the payment cleared the receivable" net_is 2025-02 1700 0
expect_net 2025-02 1910 16426
[[ $(invoicing_entries E2E-CAMT-1) == 1 ]] || fail "not one ledger entry for the payments"

# --- 4. Reminders and a billing run ------------------------------------------------------------
step "4. a reminder round: fee 5.00 and interest 8.63 on 1 000.00 30 days late"
"${I[@]}" invoice create --invoice-id E2E-B --customer C-1 --delivery-date 2025-03-01 \
  --line PALVELU:1 --request-id e2e-create-b >/dev/null || fail "create B"
b=$("${I[@]}" --json invoice issue E2E-B --date 2025-03-03 --wait-posted --wait-timeout 180s \
  --request-id e2e-issue-b) || fail "issue B"
[[ $(json_get "${b}" "(d['grossCents'], d['dueDate'])") == "('100000', '2025-03-17')" ]] ||
  fail "invoice B: ${b}"
expect_net 2025-03 1700 100000
round=$("${I[@]}" --json reminders run --as-of 2025-04-16 --request-id e2e-reminders-1) ||
  fail "reminders run"
# Due 17.3.2025; 18.3.-16.4. = 30 days at 3.5 % + 7 = 10.5 %:
# 1 000.00 × 10.5 % × 30/365 = 8.6301 -> 8.63. A consumer's fee: 5.00.
[[ $(json_get "${round}" "[(r['invoiceId'], r['daysLate'], r['feeCents'], r['interestCents']) for r in d['reminders']]") == \
  "[('E2E-B', 30, '500', '863')]" ]] || fail "reminder round: ${round}"
[[ $(invoice_field E2E-B "(d['status'], d['openCents'])") == \
  "('INVOICE_STATUS_REMINDED', '101363')" ]] || fail "B after the reminder"
until_true "${WAIT_SECONDS}" "the reminder round was posted" net_is 2025-04 5210 -863
expect_net 2025-04 3400 -500
expect_net 2025-04 1700 1363
[[ $(invoicing_entries e2e-reminders-1) == 1 ]] || fail "not one ledger entry for the round"

step "4b. a billing run: two drafts issued, one rejected by row and column, one posting"
cat >"${state}/drafts.csv" <<'CSV'
invoice_id,customer_number,delivery_date,product_code,quantity
R-1,C-1,2025-06-02,ATERIA,10
R-1,,,KOTIHOITO,1
R-2,ORG-1,2025-06-02,KOTIHOITO,2
R-3,C-404,2025-06-02,ATERIA,1
CSV
rc=0
out=$("${I[@]}" billing import --run E2E-RUN --file "${state}/drafts.csv" 2>&1) || rc=$?
((rc == 1)) || fail "billing import with a bad draft exited ${rc}: ${out}"
grep -q 'drafts.csv: 3 drafts in 1 batch: 2 accepted, 1 rejected' <<<"${out}" ||
  fail "billing import said: ${out}"
grep -q 'rejected: row 5 (invoice R-3), column customer_number: ' <<<"${out}" ||
  fail "the rejection does not name row 5's customer_number: ${out}"
out=$("${I[@]}" billing run E2E-RUN --date 2025-06-05 --request-id e2e-run 2>&1) ||
  fail "billing run: ${out}"
run=$("${I[@]}" --json billing show E2E-RUN) || fail "billing show"
# June 2025: R-1 10 × 8.50 = 85.00 at 14 % = 11.90, and 40.00 at 25.5 % = 10.20: 147.10;
# R-2 2 × 40.00 = 80.00 at 25.5 % = 20.40: 100.40. Gross 247.50, VAT 11.90 + 10.20 + 20.40.
[[ $(json_get "${run}" "(d['status'], d['issued'], d['grossCents'])") == \
  "('BILLING_RUN_STATUS_DONE', '2', '24750')" ]] || fail "billing run: ${run}"
until_true "${WAIT_SECONDS}" "the billing run was posted" net_is 2025-06 1700 24750
expect_net 2025-06 2850 -$((1190 + 1020 + 2040))
[[ $(invoicing_entries E2E-RUN) == 1 ]] || fail "not one ledger entry for the billing run"

# --- 5. Bad input ------------------------------------------------------------------------------
step "5. bad customer, bad line, bad file: INVALID_ARGUMENT naming the field, nothing written"
before=$(row_counts)
cat >"${state}/bad_customers.csv" <<'CSV'
customer_number,kind,name,personal_identity_code,street,postal_code,city
C-9,PERSON,Virheellinen Henkilö,131052-308U,Kauppakatu 2,15140,Lahti
CSV
rc=0
out=$("${I[@]}" customers import --file "${state}/bad_customers.csv" 2>&1) || rc=$?
((rc == 1)) || fail "a bad identity code: exit ${rc}: ${out}"
grep -q 'refused: row 2 (customer C-9), column personal_identity_code: ' <<<"${out}" ||
  fail "the refusal does not name personal_identity_code: ${out}"
grep -q '^tahectl: INVALID_ARGUMENT: UpsertCustomer: ' <<<"${out}" ||
  fail "not INVALID_ARGUMENT: ${out}"
! grep -q 131052 <<<"${out}" || fail "the identity code was printed: ${out}"
rc=0
out=$("${I[@]}" invoice create --customer C-1 --delivery-date 2025-05-02 --line NOPE:1 2>&1) ||
  rc=$?
((rc == 1)) || fail "an unknown product: exit ${rc}: ${out}"
grep -q '^tahectl: INVALID_ARGUMENT: CreateInvoice: invoice.lines\[0\].product_code: ' <<<"${out}" ||
  fail "the refusal does not name invoice.lines[0].product_code: ${out}"
echo "this is not XML" >"${state}/not.xml"
rc=0
out=$("${I[@]}" payments import --file "${state}/not.xml" 2>&1) || rc=$?
((rc == 1)) || fail "a file that is not XML: exit ${rc}: ${out}"
grep -q '^tahectl: INVALID_ARGUMENT: ImportPayments: ' <<<"${out}" ||
  fail "a file that is not XML is not INVALID_ARGUMENT: ${out}"
after=$(row_counts)
[[ "${after}" == "${before}" ]] || fail "rows changed:
before: ${before}
after: ${after}"

# --- 6. Killed between issue and delivery ------------------------------------------------------
step "6. the ledger down during issue, invoicing killed before delivery: posted exactly once"
"${I[@]}" invoice create --invoice-id E2E-C --customer ORG-1 --delivery-date 2025-05-02 \
  --line KOTIHOITO:1 --request-id e2e-create-c >/dev/null || fail "create C"
ledger_pid=$(<"${state}/run/ledger-paijat-hame.pid")
invoicing_pid=$(<"${state}/run/invoicing-paijat-hame.pid")
remember_cmdline ledger-paijat-hame
remember_cmdline invoicing-paijat-hame
ledger_addr=$(grep '^TAHE_LEDGER_ADDR_PAIJAT_HAME=' "${state}/local.env" | cut -d= -f2-)
invoicing_addr=$(grep '^TAHE_INVOICING_ADDR_PAIJAT_HAME=' "${state}/local.env" | cut -d= -f2-)
kill -KILL "${ledger_pid}"
c=$("${I[@]}" --json invoice issue E2E-C --date 2025-05-05 --request-id e2e-issue-c) ||
  fail "issue C while the ledger is down"
number_c=$(json_get "${c}" "d['displayNumber']")
[[ $(json_get "${c}" "d['posted']") == False ]] || fail "C posted with the ledger down"
# The relay has tried and failed: the posting waits in the outbox.
key="invoicing-lahti-invoice-E2E-C"
outbox_waiting() {
  [[ $(owner_sql "SELECT attempts > 0 AND delivered_at IS NULL FROM outbox WHERE request_id = '${key}'") == t ]]
}
until_true "${WAIT_SECONDS}" "a failed delivery attempt of ${key}" outbox_waiting
kill -KILL "${invoicing_pid}"
restart ledger-paijat-hame
restart invoicing-paijat-hame
until_true "${WAIT_SECONDS}" "the ledger is SERVING again" serving "${ledger_addr}"
until_true "${WAIT_SECONDS}" "invoicing is SERVING again" serving "${invoicing_addr}"
until_true "${WAIT_SECONDS}" "invoice C was posted after the restart" invoice_posted E2E-C
# 1 h × 40.00 = 40.00 at 25.5 % = 10.20: 50.20.
expect_net 2025-05 1700 5020
expect_net 2025-05 3000 -4000
expect_net 2025-05 2850 -1020
for reference in "${number_a}" "${number_c}" E2E-CAMT-1 e2e-reminders-1 E2E-RUN; do
  [[ $(invoicing_entries "${reference}") == 1 ]] ||
    fail "not exactly one ledger entry for ${reference}"
done
b_number=$(json_get "${b}" "d['displayNumber']")
[[ $(invoicing_entries "${b_number}") == 1 ]] || fail "not exactly one ledger entry for B"
total=$(json_get "$("${T[@]}" --json ledger entries)" \
  "len([e for e in d.get('entries', []) if e.get('source', {}).get('system') == 'invoicing'])")
((total == 6)) || fail "${total} invoicing entries in the ledger, want 6"
"${T[@]}" ledger verify-chain >/dev/null || fail "lahti's hash chain is broken"

step "the other organisation's and the other region's ledgers are unchanged"
[[ $(entries_count phhyky) == "${phhyky_before}" ]] || fail "phhyky's ledger changed"
[[ $(entries_count vaasa) == "${vaasa_before}" ]] || fail "vaasa's ledger changed"

step "reporting of the cell followed it all: lahti's 2025 reports equal its ledger"
reports_match lahti 2025-01-01 2025-12-31
for as_of in 2025-03-31 2025-06-30 2025-12-31; do
  from_invoicing=$("${I[@]}" --json ageing --as-of "${as_of}") || fail "invoicing ageing ${as_of}"
  from_reporting=$("${T[@]}" --json report ageing --as-of "${as_of}") ||
    fail "report ageing ${as_of}"
  python3 - 3<<<"${from_invoicing}" 4<<<"${from_reporting}" <<"PY" || fail "ageing ${as_of}"
import json, sys
inv, rep = json.load(open(3)), json.load(open(4))
want = [(b["bucket"], int(b.get("invoices", 0)), int(b.get("openCents", 0))) for b in inv["buckets"]]
got = [(b["bucket"], int(b.get("invoices", 0)), int(b.get("openMinor", 0))) for b in rep["buckets"]]
assert got == want, f"reporting's ageing {got} != invoicing's {want}"
assert int(rep.get("totalOpenMinor", 0)) == int(inv.get("openCents", 0))
PY
done

echo "invoicing end-to-end: passed"
