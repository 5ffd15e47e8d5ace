-- Assignments an agent's runtime holds waiting for file leases (AgentHeartbeat v2): they hold no execution slot,
-- so they are not in in_flight, and the assigner counts them out of the agent's load.
ALTER TABLE agents ADD COLUMN lease_waits int;
