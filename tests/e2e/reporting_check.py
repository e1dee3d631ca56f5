#!/usr/bin/env python3
"""Checks reporting's answers against a direct computation from the ledger, for the e2e tests.

    reporting_check.py organisation DIR   # one organisation's reports against its ledger
    reporting_check.py regional DIR ORG.. # the regional view against the organisations' reports

DIR holds what the test fetched with `tahectl --json` (protobuf's JSON mapping: 64-bit integers
as strings, fields at their defaults included):
    ledger-opening.json   ledger trial-balance --as-of (the day before FROM)
    ledger-closing.json   ledger trial-balance --as-of TO
    trial-balance.json    report trial-balance --from FROM --to TO
    income-statement.json report income-statement --from FROM --to TO   (FROM is a 1 January)
    balance-sheet.json    report balance-sheet --date TO
    cost-centres.json     report cost-centres --from FROM --to TO      (whole months)
    regional.json         report regional --from FROM --to TO           (regional only)
    <org>/...             the same per organisation                     (regional only)
Prints what it checked; exits 1 with every difference when something does not match.
"""

import json
import os
import sys

problems = []


def load(directory, name):
    with open(os.path.join(directory, name), encoding="utf-8") as f:
        return json.load(f)


def cents(value):
    return int(value or 0)


def expect(what, got, want):
    if got != want:
        problems.append(f"{what}: reporting says {got}, the ledger gives {want}")


def ledger_nets(balance):
    """Account -> net (debit - credit) from a ledger GetTrialBalanceResponse."""
    nets = {}
    for row in balance.get("rows", []):
        nets[row["account"]] = nets.get(row["account"], 0) + cents(row.get("netMinor"))
    return nets


def rows_by_code(statement):
    return {row["code"]: row for row in statement.get("rows", [])}


def is_statement_account(account):
    # The default mapping: 3xxx-8xxx are income statement accounts, 1xxx-2xxx balance sheet.
    return account[:1] in "345678"


def check_organisation(directory):
    opening = ledger_nets(load(directory, "ledger-opening.json"))
    closing = ledger_nets(load(directory, "ledger-closing.json"))
    trial = load(directory, "trial-balance.json")

    # Trial balance: opening and closing balances per account equal the ledger's balances at
    # those dates, and each row's movement is its debit minus its credit.
    seen = set()
    for row in trial.get("rows", []):
        account = row["account"]
        seen.add(account)
        expect(f"trial balance {account} opening", cents(row.get("openingMinor")),
               opening.get(account, 0))
        expect(f"trial balance {account} closing", cents(row.get("closingMinor")),
               closing.get(account, 0))
        expect(f"trial balance {account} movement",
               cents(row.get("debitMinor")) - cents(row.get("creditMinor")),
               cents(row.get("closingMinor")) - cents(row.get("openingMinor")))
    for account, net in closing.items():
        if net != 0 and account not in seen:
            problems.append(f"trial balance lacks account {account} (ledger net {net})")
    expect("trial balance total closing", cents(trial.get("totalClosingMinor")), 0)
    expect("trial balance total debit = credit", cents(trial.get("totalDebitMinor")),
           cents(trial.get("totalCreditMinor")))

    # Income statement: the year's result is minus the movement of the statement accounts.
    movement = {a: closing.get(a, 0) - opening.get(a, 0) for a in set(opening) | set(closing)}
    result = -sum(m for a, m in movement.items() if is_statement_account(a))
    income = rows_by_code(load(directory, "income-statement.json"))
    expect("income statement TILIKAUDEN_YLIJAAMA",
           cents(income["TILIKAUDEN_YLIJAAMA"].get("amountMinor")), result)
    operating_income = -sum(m for a, m in movement.items() if a[:1] == "3" and a < "3500")
    expect("income statement TOIMINTATUOTOT",
           cents(income["TOIMINTATUOTOT"].get("amountMinor")), operating_income)

    # Balance sheet: both sides equal, and the assets are the 1xxx balances.
    sheet = rows_by_code(load(directory, "balance-sheet.json"))
    assets = cents(sheet["VASTAAVAA"].get("amountMinor"))
    expect("balance sheet VASTAAVAA", assets,
           sum(n for a, n in closing.items() if a[:1] == "1"))
    expect("balance sheet VASTATTAVAA = VASTAAVAA", cents(sheet["VASTATTAVAA"].get("amountMinor")),
           assets)

    # Cost centres: the net over every cost centre is the year's result.
    centres = load(directory, "cost-centres.json")
    expect("cost-centre report total net", cents(centres["total"].get("netMinor")), result)
    expect("cost-centre report rows sum to the total",
           sum(cents(r.get("netMinor")) for r in centres.get("rows", [])),
           cents(centres["total"].get("netMinor")))
    print(f"{directory}: {len(seen)} accounts; result {result} cents; assets {assets} cents")


def check_regional(directory, organisations):
    regional = load(directory, "regional.json")
    figures = {f["tenant"]: f for f in regional.get("organisations", [])}
    for org in organisations:
        if org not in figures:
            problems.append(f"regional view lacks {org}: it has {sorted(figures)}")
            continue
        income = rows_by_code(load(os.path.join(directory, org), "income-statement.json"))
        expect(f"regional {org} tilikauden tulos",
               cents(figures[org].get("tilikaudenTulosMinor")),
               cents(income["TILIKAUDEN_TULOS"].get("amountMinor")))
        expect(f"regional {org} toimintakate", cents(figures[org].get("toimintakateMinor")),
               cents(income["TOIMINTAKATE"].get("amountMinor")))
    for field in ("operatingIncomeMinor", "operatingExpensesMinor", "toimintakateMinor",
                  "vuosikateMinor", "tilikaudenTulosMinor", "totalAssetsMinor"):
        expect(f"regional total {field}", cents(regional["total"].get(field)),
               sum(cents(f.get(field)) for f in figures.values()))
    print(f"regional: {sorted(figures)} sum to the total")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "organisation":
        check_organisation(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "regional":
        check_regional(sys.argv[2], sys.argv[3:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for problem in problems:
        print(f"MISMATCH {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
