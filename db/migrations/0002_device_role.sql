-- The device role: it may call voiced.ingest and nothing else. It has no privilege on
-- any table (so it cannot read, update or delete anything, its own rows included), and the
-- function takes the device from the login role, so a device can only add rows as itself.
-- INSERT ... ON CONFLICT would need SELECT on the conflict columns if the device inserted
-- directly; running the insert inside a SECURITY DEFINER function avoids granting it.

-- Roles are cluster-wide: two databases migrated at once (the tests do) may both find the role
-- missing; the second CREATE then fails, and means the role exists.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'voiced_device') THEN
        CREATE ROLE voiced_device NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

REVOKE ALL ON SCHEMA voiced FROM PUBLIC;
GRANT USAGE ON SCHEMA voiced TO voiced_device;
-- The database is voiced's alone: devices get no temporary tables and no public schema either.
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END
$$;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE FUNCTION voiced.from_unix_ms(ms bigint) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN timestamptz 'epoch' + ms * interval '1 millisecond';

-- Adds a batch from the calling device: one JSON array of rows per table (the device's own
-- JSON, see Sources/VoiceTelemetry/PostgresUpstream.swift; separate arguments so that each is
-- lexed once).
-- Rows already present are left alone, except a session, whose end and turn count follow the
-- row with the highest local sequence number. Returns the rows added or changed.
CREATE FUNCTION voiced.ingest(p_sessions json, p_turns json, p_llm_calls json, p_telemetry json) RETURNS integer
    LANGUAGE plpgsql
    SECURITY DEFINER
    -- Nothing the caller can create is ever looked up: every name below is schema-qualified.
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    dev uuid;
    total integer := 0;
    n integer;
BEGIN
    SELECT d.device_id INTO dev
    FROM voiced.devices d
    WHERE d.role_name = session_user AND NOT d.disabled;
    IF dev IS NULL THEN
        RAISE EXCEPTION 'role % is not a provisioned voiced device', session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;

    INSERT INTO voiced.sessions AS s (device_id, id, seq, label, started_at, ended_at, total_turns)
    SELECT dev, x.id, x.seq, x.label, voiced.from_unix_ms(x.started_ms), voiced.from_unix_ms(x.ended_ms), x.total_turns
    FROM json_to_recordset(p_sessions)
        AS x(id uuid, seq bigint, label text, started_ms bigint, ended_ms bigint, total_turns integer)
    ON CONFLICT (device_id, id) DO UPDATE
        SET seq = excluded.seq, ended_at = excluded.ended_at, total_turns = excluded.total_turns
        WHERE s.seq < excluded.seq;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;

    INSERT INTO voiced.turns (device_id, id, seq, session_id, turn_number, user_text, spoken_text, states, started_at,
                              completed_at, interrupted, status, latency_ms, debounce_ms, latencies)
    SELECT dev, x.id, x.seq, x.session_id, x.turn_number, x.user_text, x.spoken_text, x.states,
           voiced.from_unix_ms(x.started_ms), voiced.from_unix_ms(x.completed_ms), x.interrupted, x.status,
           x.latency_ms, x.debounce_ms, x.latencies
    FROM json_to_recordset(p_turns)
        AS x(id uuid, seq bigint, session_id uuid, turn_number integer, user_text text, spoken_text text,
             states jsonb, started_ms bigint, completed_ms bigint, interrupted boolean, status text,
             latency_ms integer, debounce_ms integer, latencies jsonb)
    ON CONFLICT (device_id, id) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;

    INSERT INTO voiced.llm_calls (device_id, id, seq, turn_id, call_number, status, reason, tokens, prompt_tokens,
                                  latency_ms, first_token_ms, created_at)
    SELECT dev, x.id, x.seq, x.turn_id, x.call_number, x.status, x.reason, x.tokens, x.prompt_tokens,
           x.latency_ms, x.first_token_ms, voiced.from_unix_ms(x.created_ms)
    FROM json_to_recordset(p_llm_calls)
        AS x(id uuid, seq bigint, turn_id uuid, call_number integer, status text, reason text, tokens integer,
             prompt_tokens integer, latency_ms integer, first_token_ms integer, created_ms bigint)
    ON CONFLICT (device_id, id) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;

    INSERT INTO voiced.telemetry (device_id, id, seq, session_id, name, value, recorded_at)
    SELECT dev, x.id, x.seq, x.session_id, x.name, x.value, voiced.from_unix_ms(x.recorded_ms)
    FROM json_to_recordset(p_telemetry)
        AS x(id uuid, seq bigint, session_id uuid, name text, value double precision, recorded_ms bigint)
    ON CONFLICT (device_id, id) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;

    RETURN total;
END
$fn$;

REVOKE ALL ON FUNCTION voiced.ingest(json, json, json, json) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION voiced.ingest(json, json, json, json) TO voiced_device;

-- Provisioning, for the operator (not granted to anyone): creates the device's login role
-- (a member of voiced_device) if it does not exist and registers the device. Returns its id.
CREATE FUNCTION voiced.provision_device(p_role text, p_name text, p_password text DEFAULT NULL)
    RETURNS uuid
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    dev uuid;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = p_role) THEN
        EXECUTE format('CREATE ROLE %I LOGIN', p_role);
    END IF;
    EXECUTE format('GRANT voiced_device TO %I', p_role);
    IF p_password IS NOT NULL THEN
        EXECUTE format('ALTER ROLE %I PASSWORD %L', p_role, p_password);
    END IF;
    INSERT INTO voiced.devices AS d (role_name, name) VALUES (p_role, p_name)
    ON CONFLICT ON CONSTRAINT devices_role_name_key DO UPDATE SET name = excluded.name, disabled = false
    RETURNING d.device_id INTO dev;
    RETURN dev;
END
$fn$;
REVOKE ALL ON FUNCTION voiced.provision_device(text, text, text) FROM PUBLIC;
