-- Reference rates (viitekorko) loaded by the operator, one per half-year, for every organisation
-- of the cell: they take precedence over the built-in table (interest.cc) for their half-year.
-- Like payroll's rate tables the rows hold no tenant data, so the table has no tenant column and
-- no row-level security; the service role may read, add and correct them (SetReferenceRate, which
-- the gateway allows the operator's admin role only).
CREATE TABLE reference_rates (
  year            int NOT NULL CHECK (year BETWEEN 2000 AND 2100),
  half            smallint NOT NULL CHECK (half IN (1, 2)),
  rate_hundredths int NOT NULL CHECK (rate_hundredths BETWEEN 0 AND 5000),
  provisional     boolean NOT NULL,
  loaded_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (year, half)
);

GRANT SELECT, INSERT, UPDATE ON reference_rates TO tahe_invoicing_app;
