-- The gateway's tenant directory (gateway_db): regions and the upstream addresses of their cells,
-- client organisations and the region serving each, API keys (hashes only), the audit log of the
-- admin API, and idempotency records of its mutating RPCs.
--
-- No row-level security here, unlike the cells' tables: these are the operator's tables, not any
-- tenant's data. Every row describes routing or credentials across all tenants, and the gateway
-- must read all of them to authenticate and route any call, so there is no per-transaction tenant
-- to scope a policy to. Tenants never reach these tables: only the gateway process connects, and
-- the admin API that writes them requires the `admin` role. Tenant isolation of business data is
-- enforced in the cells (FORCE RLS there), and by the gateway choosing the tenant from the key.
--
-- The gateway connects as a member of tahe_gateway_app, which owns nothing, may not delete
-- anything, may only revoke keys (not rewrite them), and may only append to the audit log.

-- Usually created by the deployment beforehand (the owner need not have CREATEROLE).
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tahe_gateway_app') THEN
    CREATE ROLE tahe_gateway_app NOLOGIN;
  END IF;
END $$;

CREATE TABLE regions (
  slug       text PRIMARY KEY CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Upstream address of each service of a region's cell, keyed by a prefix of the gRPC full
-- service name ("tahe.ledger.v1"); the router takes the longest prefix matching a call.
CREATE TABLE region_services (
  region         text NOT NULL REFERENCES regions (slug),
  service_prefix text NOT NULL
                 CHECK (service_prefix ~ '^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$'),
  address        text NOT NULL CHECK (length(address) BETWEEN 1 AND 255),
  PRIMARY KEY (region, service_prefix)
);

-- business_id is not unique: a municipality and its municipal enterprises share one Y-tunnus.
-- Its check digit is validated by the gateway (finnish-rules.md §4); the CHECK keeps the shape.
CREATE TABLE organisations (
  slug        text PRIMARY KEY CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  business_id text NOT NULL CHECK (business_id ~ '^[0-9]{7}-[0-9]$'),
  region      text NOT NULL REFERENCES regions (slug),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organisations_region ON organisations (region);

-- The secret of a key is never stored: `hash` is SHA-256 over a version prefix, the key id and
-- the 256-bit random secret (see gateway_domain.h for why a plain hash suffices). The arrays hold
-- slugs checked by the gateway against organisations and regions when the key is issued; neither
-- kind of row can be deleted, so they cannot dangle.
CREATE TABLE api_keys (
  key_id        text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{12}$'),
  hash          bytea NOT NULL CHECK (length(hash) = 32),
  roles         text[] NOT NULL CHECK (cardinality(roles) > 0),
  organisations text[] NOT NULL DEFAULT '{}',
  regions       text[] NOT NULL DEFAULT '{}',
  description   text NOT NULL DEFAULT '' CHECK (length(description) <= 200),
  created_by    text NOT NULL DEFAULT '',
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz,
  CHECK (cardinality(organisations) = 0 OR cardinality(regions) = 0)
);

-- Every successful change made through the admin API. Append-only.
CREATE TABLE audit_events (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  principal  text NOT NULL,
  action     text NOT NULL,
  target     text NOT NULL,
  request_id text NOT NULL,
  details    jsonb NOT NULL DEFAULT '{}'
);

-- Results of mutating admin RPCs, so a replay returns the original response. The response of
-- IssueApiKey is stored without the secret.
CREATE TABLE idempotency (
  request_id   text PRIMARY KEY,
  method       text NOT NULL,
  request_hash bytea NOT NULL,
  response     bytea NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION gateway_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION gateway_refuse_change();

GRANT SELECT, INSERT ON regions, region_services, audit_events, idempotency TO tahe_gateway_app;
GRANT SELECT, INSERT ON organisations, api_keys TO tahe_gateway_app;
GRANT UPDATE (name, business_id, region, updated_at) ON organisations TO tahe_gateway_app;
GRANT UPDATE (revoked_at) ON api_keys TO tahe_gateway_app;
