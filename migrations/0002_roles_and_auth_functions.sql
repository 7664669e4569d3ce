-- Data API roles (as Neon creates them) and the `auth` SQL functions of pg_session_jwt's no-JWK mode:
-- they read the transaction-local `request.jwt.claims` that the Data API sets for each request.
-- Roles are cluster-wide while the migration lock is per database: a process migrating another database of the
-- same cluster at the same moment may create a role between the check and the CREATE (duplicate_object, or a
-- unique_violation on pg_authid); either way the role exists, which is all this needs.
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT * FROM (VALUES ('anonymous', 'NOLOGIN'), ('authenticated', 'NOLOGIN'),
                                 ('authenticator', 'LOGIN NOINHERIT')) AS v(name, options) LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I %s', r.name, r.options);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END;
    END IF;
  END LOOP;
END
$$;

GRANT anonymous TO authenticator;
GRANT authenticated TO authenticator;
-- The role pgwarden itself connects as (DATABASE_URL) switches to these per Data API request, so it needs
-- membership too (a CREATEROLE owner is not a member of the roles it creates before PostgreSQL 16).
DO $$
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT anonymous, authenticated TO %I', current_user);
  END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS auth;
GRANT USAGE ON SCHEMA auth TO anonymous, authenticated;

-- JSON null when the claims are unset or not valid JSON (pg_session_jwt's behaviour), never an error.
CREATE OR REPLACE FUNCTION auth.session() RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
  raw text := nullif(current_setting('request.jwt.claims', true), '');
BEGIN
  IF raw IS NULL THEN
    RETURN 'null'::jsonb;
  END IF;
  RETURN raw::jsonb;
EXCEPTION WHEN others THEN
  RETURN 'null'::jsonb;
END
$$;

CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb
LANGUAGE sql STABLE AS $$ SELECT auth.session() $$;

CREATE OR REPLACE FUNCTION auth.user_id() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN jsonb_typeof(auth.session()) = 'object' THEN auth.session() ->> 'sub' END
$$;

-- NULL (not an error) when `sub` is missing or not a UUID, as pg_session_jwt.
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid
LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN auth.user_id() ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    THEN auth.user_id()::uuid
  END
$$;

CREATE OR REPLACE FUNCTION auth.organization() RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN jsonb_typeof(auth.session()) = 'object' THEN auth.session() -> 'o' END
$$;

CREATE OR REPLACE FUNCTION auth.organization_id() RETURNS uuid
LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN auth.organization() ->> 'id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    THEN (auth.organization() ->> 'id')::uuid
  END
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA auth TO anonymous, authenticated;
