-- The change feed's directory: which organisations of the cell have entries, with the last
-- sequence of each and when it was posted. Followers of the feed (reporting) call it without a
-- tenant, so it cannot run under the per-tenant policies: it is a SECURITY DEFINER function that
-- runs as the owner, who may read chain_heads and entries through a policy of its own (FORCE ROW
-- LEVEL SECURITY binds the owner too) — but only while the function runs: the policy asks for the
-- setting tahe.feed_directory, which the function switches on for its own duration, so the owner's
-- other sessions stay bound to their tenant. The policy is for the owner only; the application
-- role setting tahe.feed_directory gains nothing. Only tahe_ledger_app may execute the function,
-- and it returns no journal content, only tenant slugs, sequences and times.

CREATE POLICY feed_directory ON chain_heads FOR SELECT TO CURRENT_USER
  USING (current_setting('tahe.feed_directory', true) = 'on');
CREATE POLICY feed_directory ON entries FOR SELECT TO CURRENT_USER
  USING (current_setting('tahe.feed_directory', true) = 'on');

CREATE FUNCTION ledger_feed_tenants()
  RETURNS TABLE (tenant_id text, last_sequence bigint, last_posted_at timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
#variable_conflict use_column
BEGIN
  -- set_config, not a SET clause: only a superuser may attach an unregistered parameter to a
  -- function. Transaction-local, and switched off again before the function returns.
  PERFORM set_config('tahe.feed_directory', 'on', true);
  RETURN QUERY
    SELECT h.tenant_id, h.last_sequence, e.posted_at
    FROM chain_heads h
    JOIN entries e ON e.tenant_id = h.tenant_id AND e.sequence = h.last_sequence
    WHERE h.last_sequence > 0
    ORDER BY h.tenant_id;
  PERFORM set_config('tahe.feed_directory', 'off', true);
END $$;
REVOKE ALL ON FUNCTION ledger_feed_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_feed_tenants() TO tahe_ledger_app;
