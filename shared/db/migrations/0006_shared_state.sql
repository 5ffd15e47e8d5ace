-- Shared CRDT state (architect.state.crdt) in the read models. crdt_states keeps each replica's latest state of
-- each object (merged with what was stored, so a reordered or repeated record changes nothing); the other tables
-- are the objects the fleet uses, merged over every replica and rewritten whenever one of their states arrives.
CREATE TABLE crdt_states (
    object      text NOT NULL,
    replica     text NOT NULL,
    crdt_type   text NOT NULL,
    state       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (object, replica)
);

-- The active-session registry (OR-Set): one row per agent with at least one live session.
CREATE TABLE active_sessions (
    agent_id    text PRIMARY KEY,
    sessions    jsonb NOT NULL,
    runtimes    jsonb NOT NULL,
    started_at  timestamptz,
    updated_at  timestamptz NOT NULL
);

-- Completed-task counters (G-Counters), per agent and per capability.
CREATE TABLE task_counters (
    kind        text NOT NULL,
    name        text NOT NULL,
    completed   bigint NOT NULL,
    by_replica  jsonb NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (kind, name)
);

-- File-edit leases as the lock manager last replicated them (released leases have no row; expired ones keep
-- theirs until the path is asked for again: compare expires_at with now()).
CREATE TABLE file_locks (
    path        text PRIMARY KEY,
    holder      text,
    request_id  text,
    task_id     text,
    granted_at  timestamptz,
    expires_at  timestamptz,
    denied      jsonb NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX file_locks_by_holder ON file_locks (holder);
