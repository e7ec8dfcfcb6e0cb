-- BM25's inverted index (issue 22): one row per (lexeme, memory) with what BM25 needs of the pair, the
-- lexeme's count in the memory (tf) and the memory's count of distinct lexemes (doc_length). A keyword
-- search reads only its own lexemes' posting lists, from the covering primary key (an index-only scan),
-- instead of visiting every matching memory and unnesting its tsvector: at 100k memories that visit was
-- most of a hybrid search's time (bench/memory_scale.py).
--
-- PostgreSQL keeps it, through the triggers below, so every writer (ingestion, bulk, restore, fact upsert,
-- consolidation, expiry) keeps it right without knowing it exists. tf and doc_length are computed exactly
-- as the search computed them from `search_tsv` before, so the scores are the same.
CREATE TABLE memory_terms (
    lexeme TEXT NOT NULL,
    memory_id UUID NOT NULL,
    tf INTEGER NOT NULL,
    doc_length INTEGER NOT NULL,
    CONSTRAINT memory_terms_pkey PRIMARY KEY (lexeme, memory_id) INCLUDE (tf, doc_length)
);

-- Statement-level with transition tables: a bulk insert or delete is one set-based statement, not a
-- function call per memory.
CREATE FUNCTION memory_terms_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO memory_terms (lexeme, memory_id, tf, doc_length)
    SELECT term.lexeme, inserted.id, coalesce(array_length(term.positions, 1), 1), length(inserted.search_tsv)
    FROM inserted, unnest(inserted.search_tsv) AS term;
    RETURN NULL;
END $$;

CREATE FUNCTION memory_terms_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- By (lexeme, memory_id): the primary key finds each posting, so no second index is kept for deletes.
    DELETE FROM memory_terms posting
    USING deleted, unnest(tsvector_to_array(deleted.search_tsv)) AS term(lexeme)
    WHERE posting.lexeme = term.lexeme AND posting.memory_id = deleted.id;
    RETURN NULL;
END $$;

-- Row-level, and only for rows whose text changed: most updates (confidence, importance, metadata,
-- embeddings) leave search_tsv alone and must not pay for the postings.
CREATE FUNCTION memory_terms_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM memory_terms
    WHERE memory_id = OLD.id AND lexeme = ANY (tsvector_to_array(OLD.search_tsv));
    INSERT INTO memory_terms (lexeme, memory_id, tf, doc_length)
    SELECT term.lexeme, NEW.id, coalesce(array_length(term.positions, 1), 1), length(NEW.search_tsv)
    FROM unnest(NEW.search_tsv) AS term;
    RETURN NULL;
END $$;

-- DELETE, not TRUNCATE: `TRUNCATE memories, memory_terms` (as a test's or a tool's wipe of every table does)
-- would otherwise fail, memory_terms being truncated by the same statement ("in use by active queries").
CREATE FUNCTION memory_terms_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM memory_terms;
    RETURN NULL;
END $$;

CREATE TRIGGER memory_terms_insert AFTER INSERT ON memories
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION memory_terms_after_insert();
CREATE TRIGGER memory_terms_delete AFTER DELETE ON memories
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION memory_terms_after_delete();
CREATE TRIGGER memory_terms_update AFTER UPDATE ON memories FOR EACH ROW
    WHEN (OLD.search_tsv IS DISTINCT FROM NEW.search_tsv OR OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION memory_terms_after_update();
CREATE TRIGGER memory_terms_truncate AFTER TRUNCATE ON memories
    FOR EACH STATEMENT EXECUTE FUNCTION memory_terms_after_truncate();

-- The memories stored before this migration.
INSERT INTO memory_terms (lexeme, memory_id, tf, doc_length)
SELECT term.lexeme, m.id, coalesce(array_length(term.positions, 1), 1), length(m.search_tsv)
FROM memories m, unnest(m.search_tsv) AS term;
