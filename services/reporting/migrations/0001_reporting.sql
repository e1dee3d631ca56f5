-- The read model of reporting: incremental aggregates of the ledger's journal lines of every
-- organisation (tenant) of one cell, the feed checkpoints that say how far each tenant's lines
-- have been applied, statement mappings, budgets, and idempotency records.
--
-- Tenant tables carry tenant_id and are isolated by FORCE ROW LEVEL SECURITY on the
-- transaction's `tahe.tenant` setting. The aggregates and checkpoints may also be READ (never
-- written) in a transaction that sets `tahe.scope` to 'region' (SET LOCAL): only the regional
-- report's code path and the feed status for operators do. The service connects as a member of
-- tahe_reporting_app, which owns nothing.
--
-- Amounts are int64 cents: debit_minor sums the positive line amounts, credit_minor the negated
-- negative ones. Months are stored as the date of their first day.

DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tahe_reporting_app') THEN
    CREATE ROLE tahe_reporting_app NOLOGIN;
  END IF;
END $$;

-- How far each tenant's feed has been applied: advanced in the same transaction as the
-- aggregates, guarded by the expected value (UPDATE ... WHERE last_sequence = $expected), so a
-- batch is applied exactly once even with two followers.
CREATE TABLE feed_checkpoints (
  tenant_id      text PRIMARY KEY DEFAULT current_setting('tahe.tenant', true),
  last_sequence  bigint NOT NULL DEFAULT 0 CHECK (last_sequence >= 0),
  last_posted_at timestamptz,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Per account and day: partial months of a date range.
CREATE TABLE account_days (
  tenant_id    text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  currency     char(3) NOT NULL,
  account      text NOT NULL,
  day          date NOT NULL,
  debit_minor  bigint NOT NULL DEFAULT 0,
  credit_minor bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, currency, day, account)
);

-- Per account and month: whole months of a date range, and everything before it.
CREATE TABLE account_months (
  tenant_id    text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  currency     char(3) NOT NULL,
  account      text NOT NULL,
  month        date NOT NULL CHECK (extract(day FROM month) = 1),
  debit_minor  bigint NOT NULL DEFAULT 0,
  credit_minor bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, currency, month, account)
);

-- Per dimension key and value, account and month: every line counts once per dimension it
-- carries.
CREATE TABLE dimension_months (
  tenant_id       text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  currency        char(3) NOT NULL,
  dimension_key   text NOT NULL,
  dimension_value text NOT NULL,
  account         text NOT NULL,
  month           date NOT NULL CHECK (extract(day FROM month) = 1),
  debit_minor     bigint NOT NULL DEFAULT 0,
  credit_minor    bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, currency, dimension_key, month, dimension_value, account)
);

-- The same per calendar year (the year's first day): a report over whole years (a cost-centre
-- report of a year and the year before) reads a twelfth of the rows.
CREATE TABLE dimension_years (
  tenant_id       text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  currency        char(3) NOT NULL,
  dimension_key   text NOT NULL,
  dimension_value text NOT NULL,
  account         text NOT NULL,
  year            date NOT NULL CHECK (extract(day FROM year) = 1 AND extract(month FROM year) = 1),
  debit_minor     bigint NOT NULL DEFAULT 0,
  credit_minor    bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, currency, dimension_key, year, dimension_value, account)
);

-- Lines of entries whose source.system is "payroll", per month, cost centre ('' without one) and
-- account.
CREATE TABLE payroll_months (
  tenant_id    text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  currency     char(3) NOT NULL,
  month        date NOT NULL CHECK (extract(day FROM month) = 1),
  cost_centre  text NOT NULL,
  account      text NOT NULL,
  debit_minor  bigint NOT NULL DEFAULT 0,
  credit_minor bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, currency, month, cost_centre, account)
);

-- The accounts seen in the feed.
CREATE TABLE accounts_seen (
  tenant_id text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  account   text NOT NULL,
  PRIMARY KEY (tenant_id, account)
);

-- The organisation's mapping of accounts to statement rows (a StatementMapping message, binary);
-- no row: the default mapping.
CREATE TABLE statement_mappings (
  tenant_id  text PRIMARY KEY DEFAULT current_setting('tahe.tenant', true),
  mapping    bytea NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE budgets (
  tenant_id    text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  budget       text NOT NULL,
  currency     char(3) NOT NULL,
  account      text NOT NULL,
  cost_centre  text NOT NULL,
  month        date NOT NULL CHECK (extract(day FROM month) = 1),
  amount_minor bigint NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, budget, currency, month, account, cost_centre)
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
  FOREACH t IN ARRAY ARRAY['feed_checkpoints', 'account_days', 'account_months',
                           'dimension_months', 'dimension_years', 'payroll_months', 'accounts_seen',
                           'statement_mappings', 'budgets', 'idempotency'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I'
                   ' USING (tenant_id = current_setting(''tahe.tenant'', true))'
                   ' WITH CHECK (tenant_id = current_setting(''tahe.tenant'', true))', t);
  END LOOP;
  -- The regional view reads (only reads) every tenant's aggregates and checkpoints.
  FOREACH t IN ARRAY ARRAY['feed_checkpoints', 'account_days', 'account_months',
                           'statement_mappings'] LOOP
    EXECUTE format('CREATE POLICY regional_read ON %I FOR SELECT'
                   ' USING (current_setting(''tahe.scope'', true) = ''region'')', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON feed_checkpoints, account_days, account_months, dimension_months,
  dimension_years, payroll_months, accounts_seen, statement_mappings, budgets, idempotency
  TO tahe_reporting_app;
-- SetStatementMapping with no rules goes back to the default by deleting the row.
GRANT DELETE ON statement_mappings TO tahe_reporting_app;
