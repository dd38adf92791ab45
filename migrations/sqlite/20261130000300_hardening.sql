-- Hardening (docs/security.md): nonces recorded for requests signed ahead of the clock, and
-- probe claim leases.

-- Nonces of requests signed ahead of the server's clock (fast client clocks). Requests
-- signed no later than a moment past the server's clock are checked in memory only; these
-- are the ones a restarted server could not otherwise refuse as replays (docs/security.md).
CREATE TABLE signed_nonces (
    access_key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    PRIMARY KEY (access_key_id, nonce)
);
CREATE INDEX signed_nonces_by_time ON signed_nonces (signed_at);

-- Probe claims are leases: the server probing a media (probe_owner) renews
-- probe_lease_until (Unix microseconds) while it works; another server takes over a
-- Preparing media whose lease ran out (its owner died). NULL (media left Preparing by an
-- older version) counts as run out.
ALTER TABLE media ADD COLUMN probe_owner TEXT;
ALTER TABLE media ADD COLUMN probe_lease_until BIGINT;
