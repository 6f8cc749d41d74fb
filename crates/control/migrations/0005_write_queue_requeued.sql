-- The dead letters an operator put back in the queue and the relay has not attempted since
-- (pending, no attempt, an error kept from before): the relay reads its feed by `seq` and finds
-- these, which sit behind where it has read, through this small index.
CREATE INDEX write_queue_requeued ON write_queue (seq)
    WHERE state = 'pending' AND attempts = 0 AND last_error IS NOT NULL;
