-- How each session ended: `open` while the device runs it, `ended` after a clean stop, `crashed`
-- when the device's next start found it still open. A session's end (ended_at, status) arrives
-- as a newer version of a row that may already be here: the row with the higher local sequence
-- number wins, so nothing is lost and nothing duplicated.
ALTER TABLE voiced.sessions ADD COLUMN status text NOT NULL DEFAULT 'open';
UPDATE voiced.sessions SET status = 'ended' WHERE ended_at IS NOT NULL;

CREATE OR REPLACE FUNCTION voiced.ingest(p_sessions json, p_turns json, p_llm_calls json, p_telemetry json) RETURNS integer
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

    INSERT INTO voiced.sessions AS s (device_id, id, seq, label, started_at, ended_at, total_turns, status)
    SELECT dev, x.id, x.seq, x.label, voiced.from_unix_ms(x.started_ms), voiced.from_unix_ms(x.ended_ms), x.total_turns,
           coalesce(x.status, CASE WHEN x.ended_ms IS NULL THEN 'open' ELSE 'ended' END)
    FROM json_to_recordset(p_sessions)
        AS x(id uuid, seq bigint, label text, started_ms bigint, ended_ms bigint, total_turns integer, status text)
    ON CONFLICT (device_id, id) DO UPDATE
        SET seq = excluded.seq, ended_at = excluded.ended_at, total_turns = excluded.total_turns, status = excluded.status
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

-- Turns cut short by shutdown, a fatal error or going offline (`aborted`) are not answered turns.
CREATE OR REPLACE VIEW voiced.fleet_daily AS
WITH t AS (
    SELECT device_id,
           (started_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS turns,
           count(*) FILTER (WHERE latency_ms IS NOT NULL AND status NOT IN ('llm_failed', 'aborted')) AS answered_turns,
           count(*) FILTER (WHERE interrupted) AS interrupted_turns,
           avg(latency_ms)::double precision AS latency_ms_avg,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS latency_ms_p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS latency_ms_p95
    FROM voiced.turns
    GROUP BY 1, 2
), c AS (
    SELECT device_id,
           (created_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS llm_calls,
           count(*) FILTER (WHERE status = 'canceled' AND reason IN ('new_speech', 'correction_marker')) AS cancellations
    FROM voiced.llm_calls
    GROUP BY 1, 2
)
SELECT d.device_id,
       d.name AS device_name,
       day,
       coalesce(t.turns, 0) AS turns,
       coalesce(t.interrupted_turns, 0) AS interrupted_turns,
       t.latency_ms_avg,
       t.latency_ms_p50,
       t.latency_ms_p95,
       coalesce(c.llm_calls, 0) AS llm_calls,
       coalesce(c.cancellations, 0) AS cancellations,
       CASE WHEN coalesce(c.cancellations, 0) + coalesce(t.answered_turns, 0) = 0 THEN 0::double precision
            ELSE coalesce(c.cancellations, 0)::double precision / (coalesce(c.cancellations, 0) + coalesce(t.answered_turns, 0))
       END AS cancellation_rate
FROM t FULL JOIN c USING (device_id, day)
JOIN voiced.devices d USING (device_id);
