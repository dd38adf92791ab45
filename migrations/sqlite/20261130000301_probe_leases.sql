-- Probe claims are leases: the server probing a media (probe_owner) renews
-- probe_lease_until (Unix microseconds) while it works; another server takes over a
-- Preparing media whose lease ran out (its owner died). NULL (media left Preparing by an
-- older version) counts as run out.
ALTER TABLE media ADD COLUMN probe_owner TEXT;
ALTER TABLE media ADD COLUMN probe_lease_until BIGINT;
