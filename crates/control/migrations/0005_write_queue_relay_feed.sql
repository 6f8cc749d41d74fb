-- The relay now reads the queue by `seq` and keeps each entity's order in memory, so the two
-- indexes its per-delivery query used go; one on (domain, state, seq) serves the statistics
-- (depth, the oldest pending write) and the dead-letter listing.
DROP INDEX write_queue_entity;
DROP INDEX write_queue_ready;
CREATE INDEX write_queue_domain ON write_queue (domain, state, seq);

-- The dead letters an operator put back in the queue and the relay has not attempted since
-- (pending, no attempt, an error kept from before): they sit behind where the relay has read,
-- and it finds them through this small index.
CREATE INDEX write_queue_requeued ON write_queue (seq)
    WHERE state = 'pending' AND attempts = 0 AND last_error IS NOT NULL;
