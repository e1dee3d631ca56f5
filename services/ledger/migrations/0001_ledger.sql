-- The general ledger of every organisation (tenant) of one cell.
-- Every table carries tenant_id and is isolated by FORCE ROW LEVEL SECURITY on the transaction's
-- `tahe.tenant` setting. The service connects as a member of tahe_ledger_app, which owns nothing
-- and may not UPDATE or DELETE journal rows: entries are immutable; corrections are reversals.

-- Usually created by the deployment beforehand (the owner need not have CREATEROLE).
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tahe_ledger_app') THEN
    CREATE ROLE tahe_ledger_app NOLOGIN;
  END IF;
END $$;

CREATE TABLE accounts (
  tenant_id    text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  number       text NOT NULL CHECK (number ~ '^[0-9]{3,10}$'),
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  type         smallint NOT NULL CHECK (type BETWEEN 1 AND 5),
  parent_group text NOT NULL DEFAULT '',
  closed       boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, number)
);

CREATE TABLE dimensions (
  tenant_id      text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  key            text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,31}$'),
  description    text NOT NULL DEFAULT '',
  allowed_values text[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant_id, key)
);

CREATE TABLE periods (
  tenant_id     text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  period        text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  status        text NOT NULL CHECK (status IN ('open', 'closed')),
  reopen_reason text NOT NULL DEFAULT '',
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, period)
);

-- Who opened, closed and reopened which period, and why.
CREATE TABLE period_events (
  tenant_id  text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  period     text NOT NULL,
  action     text NOT NULL CHECK (action IN ('open', 'close', 'reopen')),
  reason     text NOT NULL DEFAULT '',
  request_id text NOT NULL,
  principal  text NOT NULL DEFAULT '',
  at         timestamptz NOT NULL DEFAULT now()
);

-- The last sequence and hash of each tenant's chain. Its row lock serialises posting per tenant,
-- which is what makes sequences gapless and commits arrive in sequence order.
CREATE TABLE chain_heads (
  tenant_id     text PRIMARY KEY DEFAULT current_setting('tahe.tenant', true),
  last_sequence bigint NOT NULL,
  last_hash     bytea NOT NULL
);

CREATE TABLE entries (
  tenant_id         text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  sequence          bigint NOT NULL CHECK (sequence > 0),
  request_id        text NOT NULL,
  request_hash      bytea NOT NULL,
  entry_date        date NOT NULL,
  description       text NOT NULL,
  source_system     text NOT NULL,
  source_reference  text NOT NULL,
  reverses_sequence bigint,
  posted_at         timestamptz NOT NULL,
  previous_hash     bytea NOT NULL,
  hash              bytea NOT NULL,
  PRIMARY KEY (tenant_id, sequence),
  UNIQUE (tenant_id, request_id)
);
-- An entry is reversed at most once.
CREATE UNIQUE INDEX entries_reverses ON entries (tenant_id, reverses_sequence)
  WHERE reverses_sequence IS NOT NULL;
CREATE INDEX entries_date ON entries (tenant_id, entry_date);
CREATE INDEX entries_source ON entries (tenant_id, source_system, source_reference);

CREATE TABLE entry_lines (
  tenant_id    text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  sequence     bigint NOT NULL,
  line_no      integer NOT NULL,
  account      text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor <> 0),
  currency     char(3) NOT NULL,
  dimensions   jsonb NOT NULL DEFAULT '{}',
  text         text NOT NULL DEFAULT '',
  entry_date   date NOT NULL,  -- the entry's, repeated for balance queries
  PRIMARY KEY (tenant_id, sequence, line_no)
  -- No foreign key to entries: lines are written with their entry in one statement by the ledger
  -- alone and never change, VerifyChain covers them, and the per-line key check would cost more
  -- than the insert (and picks bad cached plans while the tables are young).
);
CREATE INDEX entry_lines_account ON entry_lines (tenant_id, account, entry_date);

-- Results of mutating RPCs other than posting (which keeps its request id on the entry), so a
-- replay returns the original response.
CREATE TABLE idempotency (
  tenant_id    text NOT NULL DEFAULT current_setting('tahe.tenant', true),
  request_id   text NOT NULL,
  method       text NOT NULL,
  request_hash bytea NOT NULL,
  response     bytea NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, request_id)
);

-- Journal rows never change, whoever asks (the owner included, short of disabling triggers).
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'journal rows are immutable: post a reversal instead';
END $$;
CREATE TRIGGER entries_immutable BEFORE UPDATE OR DELETE ON entries
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER entry_lines_immutable BEFORE UPDATE OR DELETE ON entry_lines
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['accounts', 'dimensions', 'periods', 'period_events', 'chain_heads',
                           'entries', 'entry_lines', 'idempotency'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I'
                   ' USING (tenant_id = current_setting(''tahe.tenant'', true))'
                   ' WITH CHECK (tenant_id = current_setting(''tahe.tenant'', true))', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON accounts, dimensions, periods, chain_heads, idempotency
  TO tahe_ledger_app;
GRANT SELECT, INSERT ON period_events, entries, entry_lines TO tahe_ledger_app;
