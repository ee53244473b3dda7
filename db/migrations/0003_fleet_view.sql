-- Per device and per day (UTC): turns, end-of-speech to first-audio latency, and the
-- cancellation rate as the daemon computes it: speculative calls cancelled by new speech or a
-- correction, over those cancellations plus the turns whose answer was spoken.
CREATE VIEW voiced.fleet_daily AS
WITH t AS (
    SELECT device_id,
           (started_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS turns,
           count(*) FILTER (WHERE latency_ms IS NOT NULL AND status <> 'llm_failed') AS answered_turns,
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
