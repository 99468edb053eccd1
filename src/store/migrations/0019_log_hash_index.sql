-- Finding a leaf by its hash (inclusion proofs) moves to an index that trails the log: an
-- index entry per leaf inside the writing transaction cost a random B-tree insert each,
-- a third of a 100k-bid slot's time. Leaves not indexed yet (idx >= next_idx) are found
-- by their hash_prefix column within that short tail.
CREATE TABLE log_leaf_hashes (
  hash_prefix BIGINT NOT NULL,
  idx BIGINT NOT NULL,
  PRIMARY KEY (hash_prefix, idx)
) {{without_rowid}};

-- One row (id 1) once anything was indexed; none means nothing is (a new database stays
-- empty, as backups and `db load` expect of one).
CREATE TABLE log_hash_index_progress (
  id INTEGER PRIMARY KEY,
  next_idx BIGINT NOT NULL
);

INSERT INTO log_leaf_hashes (hash_prefix, idx) SELECT hash_prefix, idx FROM log_leaves;
INSERT INTO log_hash_index_progress (id, next_idx) SELECT 1, MAX(idx) + 1 FROM log_leaves HAVING COUNT(*) > 0;
DROP INDEX log_leaves_hash;
