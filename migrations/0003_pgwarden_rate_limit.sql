-- pgwarden's own state, outside neon_auth (which stays Better Auth's schema). Not exposed by the Data API and
-- not granted to its roles. UNLOGGED: after a crash the counters start again from zero, which is harmless.
CREATE SCHEMA IF NOT EXISTS pgwarden;
REVOKE ALL ON SCHEMA pgwarden FROM PUBLIC;

-- Request counters per `<client>|<path>` with Better Auth's window semantics (src/ratelimit, D37).
CREATE UNLOGGED TABLE IF NOT EXISTS pgwarden.rate_limit (
  key text PRIMARY KEY,
  count integer NOT NULL,
  last_request bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_limit_last_request_idx ON pgwarden.rate_limit (last_request);

-- Failed sign-ins per normalised address (RL-05 back-off).
CREATE UNLOGGED TABLE IF NOT EXISTS pgwarden.sign_in_failure (
  key text PRIMARY KEY,
  failures integer NOT NULL,
  last_failure bigint NOT NULL
);
