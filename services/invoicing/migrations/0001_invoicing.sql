-- Invoicing of every organisation (tenant) of one cell: the organisation as seller, customers,
-- products and price lists, invoices and their lines, billing runs, payments and their
-- allocations, reminders, the outbox of ledger postings, and idempotency records.
-- Tenant tables carry tenant_id and are isolated by FORCE ROW LEVEL SECURITY on the
-- transaction's `tahe.tenant` setting. The service connects as a member of tahe_invoicing_app,
-- which owns nothing. outbox_pending has no tenant data and no RLS (ids only; libs/outbox).
--
-- Personal identity codes are never stored: identity_hash is a keyed hash (HMAC-SHA-256 under
-- the service's key).

DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tahe_invoicing_app') THEN
    CREATE ROLE tahe_invoicing_app NOLOGIN;
  END IF;
END $$;

-- The organisation as seller: InvoicingSettings, protobuf binary (read whole, written whole).
CREATE TABLE settings (
  tenant_id  text PRIMARY KEY DEFAULT current_setting('tahe.tenant', true),
  settings   bytea NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE customers (
  tenant_id        text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  customer_number  text NOT NULL CHECK (customer_number ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$'),
  kind             smallint NOT NULL CHECK (kind IN (1, 2)),
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  business_id      text NOT NULL DEFAULT '',
  identity_hash    text NOT NULL DEFAULT '' CHECK (identity_hash ~ '^([0-9a-f]{64})?$'),
  -- The rest of the Customer message (address, channel, language, price list), without the
  -- identity code.
  details          bytea NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, customer_number)
);

CREATE TABLE products (
  tenant_id        text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  code             text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$'),
  product          bytea NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, code)
);

CREATE TABLE price_lists (
  tenant_id  text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  name       text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$'),
  price_list bytea NOT NULL,
  PRIMARY KEY (tenant_id, name)
);

-- Gapless numbering: the last number of each series, locked by the transaction that issues.
CREATE TABLE invoice_series (
  tenant_id   text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  series      text NOT NULL CHECK (series ~ '^[A-Z0-9-]{1,10}$'),
  last_number bigint NOT NULL CHECK (last_number >= 0),
  PRIMARY KEY (tenant_id, series)
);

-- Invoices and credit notes. Drafts have no number; issued rows change only by payments,
-- credits and reminders (the amounts below), never in their content. Number, reference and due
-- date are indexed in invoice_keys, not here (see there).
CREATE TABLE invoices (
  tenant_id          text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  -- The same rule as ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$, which PostgreSQL's regular expressions
  -- check an order of magnitude more slowly (the bounded repeat), on every write of a row.
  invoice_id         text NOT NULL CHECK (invoice_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]*$'
                                          AND length(invoice_id) <= 64),
  kind               smallint NOT NULL CHECK (kind IN (1, 2)),
  status             smallint NOT NULL CHECK (status BETWEEN 1 AND 8),
  customer_number    text NOT NULL,
  buyer_is_consumer  boolean NOT NULL,
  series             text NOT NULL,
  invoice_number     bigint,
  invoice_date       date,
  delivery_date      date NOT NULL,
  due_date           date,
  payment_terms_days integer NOT NULL,
  reference          text,
  net_cents          bigint NOT NULL,
  vat_cents          bigint NOT NULL,
  gross_cents        bigint NOT NULL,
  paid_cents         bigint NOT NULL DEFAULT 0,
  credited_cents     bigint NOT NULL DEFAULT 0,
  fees_cents         bigint NOT NULL DEFAULT 0,
  interest_cents     bigint NOT NULL DEFAULT 0,
  credits_invoice_id text,
  billing_run_id     text NOT NULL DEFAULT '',
  -- Issued by RunBilling: posted with the run's one entry, whose ledger sequence
  -- billing_runs.ledger_sequence holds (ledger_sequence below stays NULL).
  issued_in_run      boolean NOT NULL DEFAULT false,
  reminders_sent     integer NOT NULL DEFAULT 0,
  last_reminder_date date,
  -- The invoice as issued (Invoice message with lines, VAT groups and the buyer's snapshot in
  -- `document`), protobuf binary; drafts hold their computed lines too.
  document           bytea NOT NULL,
  ledger_sequence    bigint,
  created_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, invoice_id),
  FOREIGN KEY (tenant_id, customer_number) REFERENCES customers (tenant_id, customer_number),
  CHECK ((status = 1) = (invoice_number IS NULL)),
  CHECK (status = 1 OR (invoice_date IS NOT NULL AND due_date IS NOT NULL AND reference IS NOT NULL))
-- Half of each page is left free when rows are written, so that an invoice's next versions
-- (issued, then paid, reminded or credited) fit on its page. None of those changes touches an
-- indexed column, so each is a heap-only update (HOT): no new entry in any index. Issuing and
-- paying 100 000 invoices take a fraction of the time they take when every version adds an entry
-- to each of six indexes.
) WITH (fillfactor = 50);
-- Never filtered on: no statistics to gather (ANALYZE would sort a sample of whole documents).
ALTER TABLE invoices ALTER COLUMN document SET STATISTICS 0;
CREATE INDEX invoices_customer ON invoices (tenant_id, customer_number);
-- A billing run's invoices in id order: RunBilling reads its drafts a chunk at a time from where
-- the last chunk ended, and ListInvoices pages through a run, each without sorting the whole run.
CREATE INDEX invoices_run ON invoices (tenant_id, billing_run_id, invoice_id)
  WHERE billing_run_id <> '';

-- The keys an issued invoice (or credit note) is found by, written once when it is issued: its
-- number (unique per series), its reference (what payments are matched by) and, while it may be
-- open, its due date (reminder rounds, ageing). They live apart from `invoices` so that issuing,
-- paying and reminding an invoice change no indexed column there. `settled`: paid or credited in
-- full (status 4 or 8), as a reminder round finds; it takes the invoice out of invoice_keys_open.
-- Never set on an open invoice, never cleared.
CREATE TABLE invoice_keys (
  tenant_id      text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  invoice_id     text NOT NULL,
  series         text NOT NULL,
  invoice_number bigint NOT NULL,
  reference      text NOT NULL,
  due_date       date NOT NULL,
  settled        boolean NOT NULL DEFAULT false,
  PRIMARY KEY (tenant_id, invoice_id)
);
CREATE UNIQUE INDEX invoice_keys_number ON invoice_keys (tenant_id, series, invoice_number);
CREATE UNIQUE INDEX invoice_keys_reference ON invoice_keys (tenant_id, reference);
CREATE INDEX invoice_keys_open ON invoice_keys (tenant_id, due_date) WHERE NOT settled;

-- Invoice lines, also as rows for queries and reporting (the document has them too).
CREATE TABLE invoice_lines (
  tenant_id        text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  invoice_id       text NOT NULL,
  line_number      integer NOT NULL,
  product_code     text NOT NULL,
  description      text NOT NULL,
  quantity_milli   bigint NOT NULL,
  unit_price_cents bigint NOT NULL,
  vat_rate_ppm     bigint NOT NULL,
  net_cents        bigint NOT NULL,
  sales_account    text NOT NULL,
  cost_centre      text NOT NULL,
  PRIMARY KEY (tenant_id, invoice_id, line_number)
);

CREATE TABLE billing_runs (
  tenant_id      text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  billing_run_id text NOT NULL CHECK (billing_run_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
  status         smallint NOT NULL,
  -- BillingRun message, protobuf binary (counts, rejections, numbers).
  run            bytea NOT NULL,
  ledger_sequence bigint,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, billing_run_id)
);

CREATE TABLE payments (
  tenant_id        text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  payment_id       text NOT NULL,
  transaction_key  text NOT NULL,
  status           smallint NOT NULL CHECK (status IN (1, 2, 3)),
  amount_cents     bigint NOT NULL CHECK (amount_cents > 0),
  allocated_cents  bigint NOT NULL CHECK (allocated_cents BETWEEN 0 AND amount_cents),
  booking_date     date NOT NULL,
  value_date       date,
  reference        text NOT NULL,
  payer_name       text NOT NULL,
  message_id       text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  -- payment_id is "pay-" and 96 bits of the SHA-256 of transaction_key: the primary key keeps
  -- each bank transaction once, and transaction_key needs no index of its own (an import checks
  -- that an existing id has the same key).
  PRIMARY KEY (tenant_id, payment_id)
);
CREATE INDEX payments_open ON payments (tenant_id, status) WHERE status <> 1;

CREATE TABLE payment_allocations (
  tenant_id    text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  payment_id   text NOT NULL,
  invoice_id   text NOT NULL,
  amount_cents bigint NOT NULL CHECK (amount_cents > 0),
  created_at   timestamptz NOT NULL DEFAULT now(),
  -- Read by payment only (no index by invoice: a payment import writes 100 000 rows).
  PRIMARY KEY (tenant_id, payment_id, invoice_id)
);

CREATE TABLE reminders (
  tenant_id      text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  invoice_id     text NOT NULL,
  reminder_no    integer NOT NULL,
  as_of          date NOT NULL,
  fee_cents      bigint NOT NULL,
  interest_cents bigint NOT NULL,
  reminder       bytea NOT NULL,  -- Reminder message
  PRIMARY KEY (tenant_id, invoice_id, reminder_no)
);

CREATE TABLE outbox (
  tenant_id       text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  message_id      bigserial,
  destination     text NOT NULL,
  request_id      text NOT NULL,
  subject         text NOT NULL,
  payload         bytea NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text NOT NULL DEFAULT '',
  delivered_at    timestamptz,
  PRIMARY KEY (tenant_id, message_id),
  UNIQUE (tenant_id, request_id)
);

CREATE TABLE outbox_pending (
  tenant_id  text NOT NULL,
  message_id bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, message_id)
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
  FOREACH t IN ARRAY ARRAY['settings', 'customers', 'products', 'price_lists', 'invoice_series',
                           'invoices', 'invoice_keys', 'invoice_lines', 'billing_runs', 'payments',
                           'payment_allocations', 'reminders', 'outbox', 'idempotency'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I'
                   ' USING (tenant_id = current_setting(''tahe.tenant'', true))'
                   ' WITH CHECK (tenant_id = current_setting(''tahe.tenant'', true))', t);
  END LOOP;
END $$;

-- The application role may not ANALYZE tables it does not own; RunBilling has invoices analyzed
-- (the columns its statements filter on) when a run's drafts are a large part of the table (see
-- there).
CREATE FUNCTION invoicing_analyze_invoices() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
  SET search_path FROM CURRENT AS $$
BEGIN
  ANALYZE invoices (tenant_id, invoice_id, status, billing_run_id, customer_number);
END $$;
REVOKE ALL ON FUNCTION invoicing_analyze_invoices() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoicing_analyze_invoices() TO tahe_invoicing_app;

GRANT SELECT, INSERT, UPDATE ON settings, customers, products, price_lists, invoice_series,
  invoices, billing_runs, payments, outbox, idempotency TO tahe_invoicing_app;
GRANT DELETE ON invoices, invoice_lines TO tahe_invoicing_app;
GRANT SELECT, INSERT ON invoice_lines, payment_allocations, reminders TO tahe_invoicing_app;
GRANT SELECT, INSERT, UPDATE ON invoice_keys TO tahe_invoicing_app;
GRANT UPDATE ON payment_allocations TO tahe_invoicing_app;
GRANT SELECT, INSERT, DELETE ON outbox_pending TO tahe_invoicing_app;
GRANT USAGE ON SEQUENCE outbox_message_id_seq TO tahe_invoicing_app;
