-- The fleet's telemetry: one row per device row, keyed by (device_id, id) so that any number
-- of devices can upload, and re-uploading a row changes nothing.
-- Times arrive from devices as Unix milliseconds and are stored as timestamptz.

CREATE SCHEMA voiced;

-- One row per speaker; `role_name` is the login role the device authenticates as, and the only
-- way the ingest function learns which device is calling.
CREATE TABLE voiced.devices (
    device_id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    role_name   name NOT NULL UNIQUE,
    name        text NOT NULL,
    disabled    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE voiced.sessions (
    device_id   uuid NOT NULL REFERENCES voiced.devices,
    id          uuid NOT NULL,
    seq         bigint NOT NULL,          -- the device's local sequence number (a later one wins)
    label       text NOT NULL,            -- the daemon's own session name
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    total_turns integer NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, id)
);
CREATE INDEX sessions_device_started ON voiced.sessions (device_id, started_at);

CREATE TABLE voiced.turns (
    device_id    uuid NOT NULL REFERENCES voiced.devices,
    id           uuid NOT NULL,
    seq          bigint NOT NULL,
    session_id   uuid NOT NULL,
    turn_number  integer NOT NULL,
    user_text    text NOT NULL,
    spoken_text  text NOT NULL,           -- the answer as spoken, up to an interruption
    states       jsonb NOT NULL,          -- [{"at": unix ms, "from", "to", "cause"}, ...]
    started_at   timestamptz NOT NULL,
    completed_at timestamptz,
    interrupted  boolean NOT NULL,
    status       text NOT NULL,
    latency_ms   integer,                 -- end of speech to first audio
    debounce_ms  integer NOT NULL,
    latencies    jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, id)
);
CREATE INDEX turns_device_started ON voiced.turns (device_id, started_at);

CREATE TABLE voiced.llm_calls (
    device_id      uuid NOT NULL REFERENCES voiced.devices,
    id             uuid NOT NULL,
    seq            bigint NOT NULL,
    turn_id        uuid NOT NULL,
    call_number    integer NOT NULL,
    status         text NOT NULL CHECK (status IN ('running', 'completed', 'canceled', 'failed')),
    reason         text,
    tokens         integer NOT NULL,
    prompt_tokens  integer,
    latency_ms     integer,
    first_token_ms integer,
    created_at     timestamptz NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, id)
);
CREATE INDEX llm_calls_device_created ON voiced.llm_calls (device_id, created_at);

CREATE TABLE voiced.telemetry (
    device_id   uuid NOT NULL REFERENCES voiced.devices,
    id          uuid NOT NULL,
    seq         bigint NOT NULL,
    session_id  uuid,
    name        text NOT NULL,
    value       double precision NOT NULL,
    recorded_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, id)
);
CREATE INDEX telemetry_device_recorded ON voiced.telemetry (device_id, recorded_at);
