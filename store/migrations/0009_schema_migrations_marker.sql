-- Each applied migration's `-- breaks-readers-below: N` marker (NULL: additive). A server that
-- does not know every applied migration reads it to decide whether it may run on this schema:
-- it refuses when some applied migration has breaks_readers_below above the number of
-- migrations it knows. Servers check for the column first, since databases before this
-- migration lack it.
ALTER TABLE schema_migrations ADD COLUMN breaks_readers_below INTEGER NULL;
