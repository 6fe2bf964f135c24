-- Version 12: the roles of a Supabase database (anon, authenticated,
-- service_role) and the privileges Supabase gives them by default, so a
-- Supabase client's reads and get_coverage_gaps work as they do there.
-- Roles belong to the cluster: each is created only when absent (another
-- database of the cluster may have made it, even at the same moment), NOLOGIN
-- (a connection takes one with SET ROLE), and a migrating user without
-- CREATEROLE goes on without it (a notice; the grants then skip that role).
-- anon and authenticated read every table of schema public, service_role
-- may do everything, and tables made by later migrations follow (default
-- privileges). get_coverage_gaps runs as its owner with a pinned search_path,
-- so it answers any caller, anon included, whatever that caller may read.
--
-- Never edit a migration that has shipped: append one. Comments stand only
-- between statements (a function's body is kept as written).
DO $$
DECLARE v_role text;
BEGIN
  FOREACH v_role IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
    CONTINUE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role);
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
    EXCEPTION
      WHEN insufficient_privilege THEN
        RAISE NOTICE 'barkeep: role % not created (no CREATEROLE privilege)', v_role;
      WHEN duplicate_object OR unique_violation THEN
        NULL;
    END;
  END LOOP;
END $$;
DO $$
DECLARE v_role text;
BEGIN
  FOREACH v_role IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role);
    BEGIN
      EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', v_role);
      IF v_role = 'service_role' THEN
        EXECUTE format('GRANT ALL ON ALL TABLES IN SCHEMA public TO %I', v_role);
        EXECUTE format('GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO %I', v_role);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO %I',
                       v_role);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO %I',
                       v_role);
      ELSE
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA public TO %I', v_role);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO %I',
                       v_role);
      END IF;
    EXCEPTION
      WHEN insufficient_privilege THEN
        RAISE NOTICE 'barkeep: privileges of role % not granted (not the owner)', v_role;
    END;
  END LOOP;
END $$;
ALTER FUNCTION get_coverage_gaps(text, text, int, timestamptz)
  SECURITY DEFINER SET search_path = public, pg_temp;
