-- Payroll of every organisation (tenant) of one cell: employees, tax cards, pay items, pay runs
-- and payslips, the outbox of ledger postings, and the change feed of approved runs' totals.
-- Tenant tables carry tenant_id and are isolated by FORCE ROW LEVEL SECURITY on the
-- transaction's `tahe.tenant` setting. The service connects as a member of tahe_payroll_app,
-- which owns nothing.
--
-- Two tables have no tenant data and no RLS: rate_tables (statutory rates, the same for every
-- organisation of the cell) and outbox_pending (which tenants have undelivered messages: tenant
-- id and message id only), so that the relay can find work without seeing any tenant's rows; it
-- then reads each message in a transaction of that tenant.
--
-- Personal identity codes are never stored: identity_hash is a keyed hash (HMAC-SHA-256 under the
-- service's key) and birth_date is kept for the age-dependent rates.

DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tahe_payroll_app') THEN
    CREATE ROLE tahe_payroll_app NOLOGIN;
  END IF;
END $$;

CREATE TABLE employees (
  tenant_id            text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  employee_number      text NOT NULL CHECK (employee_number ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$'),
  first_name           text NOT NULL CHECK (length(first_name) BETWEEN 1 AND 100),
  last_name            text NOT NULL CHECK (length(last_name) BETWEEN 1 AND 100),
  identity_hash        text NOT NULL CHECK (identity_hash ~ '^[0-9a-f]{64}$'),
  birth_date           date NOT NULL,
  iban                 text NOT NULL CHECK (iban ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}$'),
  bic                  text NOT NULL DEFAULT '',
  start_date           date NOT NULL,
  end_date             date,
  cost_centre          text NOT NULL CHECK (length(cost_centre) BETWEEN 1 AND 64),
  dimensions           jsonb NOT NULL DEFAULT '{}',
  salary_basis         smallint NOT NULL CHECK (salary_basis IN (1, 2)),
  monthly_salary_minor bigint NOT NULL DEFAULT 0 CHECK (monthly_salary_minor >= 0),
  hourly_rate_minor    bigint NOT NULL DEFAULT 0 CHECK (hourly_rate_minor >= 0),
  pension_scheme       smallint NOT NULL CHECK (pension_scheme IN (1, 2)),
  union_fee_ppm        bigint NOT NULL DEFAULT 0 CHECK (union_fee_ppm BETWEEN 0 AND 1000000),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, employee_number),
  CHECK (end_date IS NULL OR end_date >= start_date)
);
CREATE INDEX employees_identity ON employees (tenant_id, identity_hash);

CREATE TABLE tax_cards (
  tenant_id           text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  employee_number     text NOT NULL,
  valid_from          date NOT NULL,
  base_rate_ppm       bigint NOT NULL CHECK (base_rate_ppm BETWEEN 0 AND 1000000),
  additional_rate_ppm bigint NOT NULL CHECK (additional_rate_ppm BETWEEN 0 AND 1000000),
  income_limit_minor  bigint NOT NULL CHECK (income_limit_minor >= 0),
  PRIMARY KEY (tenant_id, employee_number, valid_from),
  FOREIGN KEY (tenant_id, employee_number) REFERENCES employees (tenant_id, employee_number)
);

-- Statutory rates loaded by operators, versioned by date (not tenant data): the table in its
-- text format (services/payroll/rate_tables.h). The built-in tables live in the code; a loaded
-- table with the same valid_from replaces a built-in one.
CREATE TABLE rate_tables (
  version    text PRIMARY KEY CHECK (version ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  valid_from date NOT NULL,
  table_text text NOT NULL,
  loaded_at  timestamptz NOT NULL DEFAULT now()
);

-- The organisation's payroll settings (PayrollSettings in protobuf's JSON mapping).
CREATE TABLE settings (
  tenant_id     text PRIMARY KEY DEFAULT current_setting('tahe.tenant', true),
  settings_json jsonb NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pay_items (
  tenant_id       text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  item_id         text NOT NULL CHECK (item_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$'),
  employee_number text NOT NULL,
  period          text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  kind            smallint NOT NULL CHECK (kind BETWEEN 1 AND 12),
  quantity_centi  bigint NOT NULL DEFAULT 0,
  unit_rate_minor bigint NOT NULL DEFAULT 0,
  amount_minor    bigint NOT NULL DEFAULT 0,
  description     text NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, item_id),
  FOREIGN KEY (tenant_id, employee_number) REFERENCES employees (tenant_id, employee_number)
);

-- The pay items no approved run has paid yet (written with the item, in the same statement,
-- and deleted by the approval that pays it), so that a calculation reads only the open items
-- however long the history, and approval marks an item paid with a delete (no new row version of
-- pay_items, no index entry). The run that paid an item is its pay_run_items row in an APPROVED
-- or POSTED run. No foreign key to pay_items: the rows are written together and pay items are
-- never deleted, and the check would cost every imported item a lookup.
CREATE TABLE unpaid_items (
  tenant_id       text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  item_id         text NOT NULL,
  -- Copies of the item's (immutable) fields, for the calculation's scope.
  employee_number text NOT NULL,
  period          text NOT NULL,
  PRIMARY KEY (tenant_id, item_id)
);

CREATE TABLE pay_runs (
  tenant_id           text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  pay_run_id          text NOT NULL,
  period              text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  payment_date        date NOT NULL,
  status              smallint NOT NULL CHECK (status BETWEEN 1 AND 5),
  -- PayRun as last calculated (totals, versions, skipped), protobuf binary.
  summary             bytea,
  -- Approvals of the tenant seen when the run was calculated: approving requires that no other
  -- run was approved since (the year-to-date figures it used would be stale).
  approvals_seen      bigint NOT NULL DEFAULT 0,
  -- The pay items the last calculation included (its rows in pay_run_items), which approval must
  -- find unpaid.
  item_count          bigint NOT NULL DEFAULT 0,
  ledger_sequence     bigint NOT NULL DEFAULT 0,
  delivery_error      text NOT NULL DEFAULT '',
  created_at          timestamptz NOT NULL DEFAULT now(),
  calculated_at       timestamptz,
  approved_at         timestamptz,
  posted_at           timestamptz,
  PRIMARY KEY (tenant_id, pay_run_id)
);

CREATE TABLE payslips (
  tenant_id        text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  pay_run_id       text NOT NULL,
  employee_number  text NOT NULL,
  -- Figures used across runs: the year-to-date taxable pay, the SEPA file.
  taxable_minor    bigint NOT NULL,
  net_pay_minor    bigint NOT NULL,
  -- The Payslip message, protobuf binary.
  payslip          bytea NOT NULL,
  PRIMARY KEY (tenant_id, pay_run_id, employee_number),
  FOREIGN KEY (tenant_id, pay_run_id) REFERENCES pay_runs (tenant_id, pay_run_id)
);

-- The pay items a calculated run pays; paid by it once it is APPROVED or POSTED (see unpaid_items).
-- The primary key is the only index (a run writes hundreds of thousands of rows): the run that paid
-- an item is found among the approved runs of its period or later.
CREATE TABLE pay_run_items (
  tenant_id  text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  pay_run_id text NOT NULL,
  item_id    text NOT NULL,
  PRIMARY KEY (tenant_id, pay_run_id, item_id)
);

-- A calculated run's payslip figures summed per posting group: the cost centre and the
-- employment's other dimensions as they were when the run was calculated (group_key is their
-- JSON object, keys sorted). Approval posts these sums without reading the payslips again.
CREATE TABLE pay_run_postings (
  tenant_id  text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  pay_run_id text NOT NULL,
  group_key  text NOT NULL,
  figures    bytea NOT NULL,              -- PayRunTotalsFigures, protobuf binary
  PRIMARY KEY (tenant_id, pay_run_id, group_key),
  FOREIGN KEY (tenant_id, pay_run_id) REFERENCES pay_runs (tenant_id, pay_run_id)
);

-- How many runs each tenant has approved (see pay_runs.approvals_seen).
CREATE TABLE approval_counters (
  tenant_id text PRIMARY KEY DEFAULT current_setting('tahe.tenant', true),
  approvals bigint NOT NULL
);

-- Messages to other services, written in the same transaction as the change they announce and
-- delivered by the relay until acknowledged (request_id is the receiver's idempotency key).
CREATE TABLE outbox (
  tenant_id       text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  message_id      bigserial,
  destination     text NOT NULL,          -- "/tahe.ledger.v1.LedgerService/PostEntry"
  request_id      text NOT NULL,
  payload         bytea NOT NULL,         -- the request message, protobuf binary
  subject         text NOT NULL,          -- "payrun:<pay_run_id>" (libs/outbox)
  created_at      timestamptz NOT NULL DEFAULT now(),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text NOT NULL DEFAULT '',
  delivered_at    timestamptz,
  PRIMARY KEY (tenant_id, message_id),
  UNIQUE (tenant_id, request_id)
);

-- Which tenants have undelivered messages (no RLS: ids only; see above).
CREATE TABLE outbox_pending (
  tenant_id  text NOT NULL,
  message_id bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, message_id)
);

-- Change feed of approved runs' totals, gapless per tenant.
CREATE TABLE totals_feed (
  tenant_id  text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  sequence   bigint NOT NULL,
  pay_run_id text NOT NULL,
  totals     bytea NOT NULL,                -- PayRunTotals, protobuf binary
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, sequence)
);

CREATE TABLE idempotency (
  tenant_id    text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  request_id   text NOT NULL,
  method       text NOT NULL,
  request_hash bytea NOT NULL,
  response     bytea NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, request_id)
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['employees', 'tax_cards', 'settings', 'pay_items', 'unpaid_items',
                           'pay_runs', 'payslips', 'pay_run_items', 'pay_run_postings',
                           'approval_counters', 'outbox', 'totals_feed', 'idempotency'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I'
                   ' USING (tenant_id = current_setting(''tahe.tenant'', true))'
                   ' WITH CHECK (tenant_id = current_setting(''tahe.tenant'', true))', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON employees, settings, pay_items, pay_runs, approval_counters,
  outbox, idempotency TO tahe_payroll_app;
GRANT SELECT, INSERT, UPDATE ON tax_cards TO tahe_payroll_app;
GRANT SELECT, INSERT, DELETE ON payslips, pay_run_items, pay_run_postings, unpaid_items
  TO tahe_payroll_app;
GRANT SELECT, INSERT ON rate_tables, totals_feed TO tahe_payroll_app;
GRANT SELECT, INSERT, DELETE ON outbox_pending TO tahe_payroll_app;
GRANT USAGE ON SEQUENCE outbox_message_id_seq TO tahe_payroll_app;
