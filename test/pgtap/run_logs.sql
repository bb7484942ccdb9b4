-- Run logs in the database (issue 14): paperclip.run_log_chunks as a DBA
-- and an attacker meet it, and read_log by byte offset over rows that cut
-- characters anywhere.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(34);

CREATE FUNCTION pg_temp.run_as(r text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    out text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    EXECUTE q INTO out;
    RESET ROLE;
    RETURN out;
END $$;

CREATE ROLE t14_reader IN ROLE paperclip_reader;      -- every company
CREATE ROLE t14_admin IN ROLE paperclip_admin;        -- every company
CREATE ROLE t14_a_op IN ROLE paperclip_operator;      -- company A
INSERT INTO paperclip.companies (id, name) VALUES
  ('14000000-0000-0000-0000-00000000000a', 'A'), ('14000000-0000-0000-0000-00000000000b', 'B');
INSERT INTO paperclip.company_roles (role_id, company_id) VALUES
  ('t14_reader', NULL), ('t14_admin', NULL), ('t14_a_op', '14000000-0000-0000-0000-00000000000a');
INSERT INTO paperclip.agents (id, company_id, name) VALUES
  ('14000000-0000-0000-0000-0000000000a1', '14000000-0000-0000-0000-00000000000a', 'a1'),
  ('14000000-0000-0000-0000-0000000000a2', '14000000-0000-0000-0000-00000000000a', 'a2'),
  ('14000000-0000-0000-0000-0000000000a3', '14000000-0000-0000-0000-00000000000a', 'a3'),
  ('14000000-0000-0000-0000-0000000000b1', '14000000-0000-0000-0000-00000000000b', 'b1');
INSERT INTO paperclip.heartbeat_runs (id, company_id, agent_id, status, log_store) VALUES
  ('14000000-0000-0000-0000-0000000000f1', '14000000-0000-0000-0000-00000000000a', '14000000-0000-0000-0000-0000000000a1', 'succeeded', 'db'),
  ('14000000-0000-0000-0000-0000000000f2', '14000000-0000-0000-0000-00000000000a', '14000000-0000-0000-0000-0000000000a2', 'running', NULL),
  ('14000000-0000-0000-0000-0000000000fb', '14000000-0000-0000-0000-00000000000b', '14000000-0000-0000-0000-0000000000b1', 'succeeded', 'db');

-- 1. the table, as \d+ shows it
SELECT has_table('paperclip', 'run_log_chunks', 'paperclip.run_log_chunks holds run logs');
SELECT col_is_pk('paperclip', 'run_log_chunks', ARRAY['company_id', 'run_id', 'byte_offset'],
                 'its key is (company_id, run_id, byte_offset): company first, rows of a run in order');
SELECT fk_ok('paperclip', 'run_log_chunks', ARRAY['company_id', 'run_id'], 'paperclip', 'heartbeat_runs', ARRAY['company_id', 'id'],
             'a row names a run of its own company');
SELECT is((SELECT confdeltype FROM pg_constraint WHERE conname = 'run_log_chunks_company_id_run_id_fkey'), 'c',
          'and goes with it');
SELECT col_type_is('paperclip', 'run_log_chunks', 'content', 'bytea', 'content is bytes (a row may cut a character)');
SELECT is((SELECT attcompression::text FROM pg_attribute WHERE attrelid = 'paperclip.run_log_chunks'::regclass AND attname = 'content'),
          CASE WHEN EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals))
               THEN 'l' ELSE '' END,
          'content is compressed with lz4 when the server has it, else with the default (pglz)');
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = 'paperclip.run_log_chunks'::regclass), 'it has row-level security');
SELECT ok((SELECT 'paperclip.run_log_chunks'::regclass = ANY (extconfig) FROM pg_extension WHERE extname = 'paperclip'),
          'pg_dump keeps its rows');
SELECT isnt(obj_description('paperclip.run_log_chunks'::regclass, 'pg_class'), NULL, 'it has a comment');
SELECT is((SELECT count(*) FROM pg_attribute WHERE attrelid = 'paperclip.run_log_chunks'::regclass AND attnum > 0
            AND col_description(attrelid, attnum) IS NULL), 0::bigint, 'and so has every column');
SELECT throws_ok($$UPDATE paperclip.heartbeat_runs SET log_store = 'elsewhere' WHERE id = '14000000-0000-0000-0000-0000000000f1'$$,
                 '22023', NULL, 'log_store is db, file or local_file (the domain paperclip.log_store)');

-- 2. nobody writes it; readers read their companies' rows
SELECT is((SELECT count(*) FROM pg_roles r, unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
            WHERE NOT r.rolsuper AND NOT pg_has_role(r.oid, 'pg_write_all_data', 'USAGE')
              AND has_table_privilege(r.oid, 'paperclip.run_log_chunks', p)), 0::bigint,
          'no role but superusers (and pg_write_all_data) may write it');
SELECT throws_ok($$SELECT pg_temp.run_as('t14_admin', $q$INSERT INTO paperclip.run_log_chunks VALUES
                   ('14000000-0000-0000-0000-00000000000a', '14000000-0000-0000-0000-0000000000f1', 0, 'x') RETURNING 'x'$q$)$$,
                 '42501', NULL, 'not even an admin');
SELECT ok(has_table_privilege('paperclip_reader', 'paperclip.run_log_chunks', 'SELECT'), 'readers may read it');
SELECT ok(paperclip.append_run_log('14000000-0000-0000-0000-0000000000fb', 'stdout', 'B''s secret') > 50,
          'append_run_log appends a record ({"ts","stream","chunk"}) and returns the bytes so far');
SELECT is(pg_temp.run_as('t14_a_op', $$SELECT count(*) FROM paperclip.run_log_chunks
                                       WHERE run_id = '14000000-0000-0000-0000-0000000000fb'$$), '0',
          'a role bound to A sees none of B''s rows');
SELECT is(pg_temp.run_as('t14_reader', $$SELECT count(*) FROM paperclip.run_log_chunks
                                         WHERE run_id = '14000000-0000-0000-0000-0000000000fb'$$), '1',
          'a reader of every company sees them');
SELECT throws_ok($$SELECT pg_temp.run_as('t14_a_op', $q$SELECT content FROM paperclip.read_log('14000000-0000-0000-0000-0000000000fb')$q$)$$,
                 'P0002', 'heartbeat run not found', 'read_log of B''s run, as A, finds no run');

-- 3. append_run_log writes consecutive rows, one a record
SELECT paperclip.append_run_log('14000000-0000-0000-0000-0000000000f2', 'stdout', 'one') AS b1 \gset
SELECT paperclip.append_run_log('14000000-0000-0000-0000-0000000000f2', 'stderr', 'two é') AS b2 \gset
SELECT is((SELECT array_agg(byte_offset || '+' || octet_length(content) ORDER BY byte_offset) FROM paperclip.run_log_chunks
            WHERE run_id = '14000000-0000-0000-0000-0000000000f2'),
          ARRAY['0+' || :b1, :b1 || '+' || (:b2 - :b1)], 'append_run_log writes a row a record, each where the log ended');
SELECT is((SELECT log_store || ' ' || log_bytes FROM paperclip.heartbeat_runs WHERE id = '14000000-0000-0000-0000-0000000000f2'),
          'db ' || :b2, 'the run says db and counts the bytes');
SELECT matches((SELECT content FROM paperclip.read_log('14000000-0000-0000-0000-0000000000f2', :b1)),
               '^\{"ts":"[^"]+","stream":"stderr","chunk":"two é"\}\n$', 'read_log from the second record''s offset returns it');
UPDATE paperclip.heartbeat_runs SET runner_pid = 12345 WHERE id = '14000000-0000-0000-0000-0000000000f2';
SELECT throws_ok($$SELECT paperclip.append_run_log('14000000-0000-0000-0000-0000000000f2', 'stdout', 'x')$$,
                 '55000', 'the log of this run is written by its runner', 'not into a log the launcher''s runner writes');
UPDATE paperclip.heartbeat_runs SET runner_pid = NULL, log_store = 'file' WHERE id = '14000000-0000-0000-0000-0000000000f2';
SELECT throws_ok($$SELECT paperclip.append_run_log('14000000-0000-0000-0000-0000000000f2', 'stdout', 'x')$$,
                 '55000', 'the log of this run is kept in a file', 'nor into a file store''s log');

-- 4. read_log over rows cut anywhere, even inside characters: rows of 1 to 5 bytes
CREATE TEMP TABLE whole AS
SELECT convert_to(string_agg(format('{"ts":"t","stream":"stdout","chunk":"%s é€𝄞 %s"}' || chr(10), g, repeat('x', g % 3)), ''), 'UTF8') AS b
  FROM generate_series(1, 12) g;
INSERT INTO paperclip.run_log_chunks (company_id, run_id, byte_offset, content)
WITH RECURSIVE cut(off) AS (
    SELECT 0::bigint
  UNION ALL
    SELECT off + 1 + (off % 5) FROM cut, whole WHERE off + 1 + (off % 5) < length(whole.b))
SELECT '14000000-0000-0000-0000-00000000000a', '14000000-0000-0000-0000-0000000000f1', off,
       substring(w.b FROM off::int + 1 FOR 1 + (off % 5)::int)
  FROM cut, whole w;
SELECT ok((SELECT count(*) FROM paperclip.run_log_chunks WHERE run_id = '14000000-0000-0000-0000-0000000000f1')
          > (SELECT length(b) / 5 FROM whole), 'a log in rows of 1 to 5 bytes');
SELECT is((SELECT convert_to(content, 'UTF8') FROM paperclip.read_log('14000000-0000-0000-0000-0000000000f1')),
          (SELECT b FROM whole), 'read_log returns it whole');
SELECT is((WITH RECURSIVE page(n, off, content) AS (
               SELECT 0, 0::bigint, ''::text
             UNION ALL
               SELECT p.n + 1, l.next_offset, l.content
                 FROM page p, paperclip.read_log('14000000-0000-0000-0000-0000000000f1', p.off, 1 + p.n % 7) l
                WHERE p.off IS NOT NULL AND p.n < 100000)
           SELECT convert_to(string_agg(content, '' ORDER BY n), 'UTF8') FROM page), (SELECT b FROM whole),
          'pages of 1 to 7 bytes make the log: every page advances, whole characters across rows');
-- from every offset: the page starts at the first character at or after it
SELECT is((SELECT count(*) FROM whole, generate_series(0, length(whole.b) - 1) o,
                LATERAL paperclip.read_log('14000000-0000-0000-0000-0000000000f1', o, 3) l,
                LATERAL (SELECT min(p) AS s FROM generate_series(o, least(o + 3, length(whole.b))) p
                          WHERE p = length(whole.b) OR get_byte(whole.b, p) & 192 <> 128) s,
                LATERAL (SELECT convert_to(l.content, 'UTF8') AS c) c
            WHERE NOT (c.c = substring(whole.b FROM s.s + 1 FOR octet_length(c.c))
                       AND coalesce(l.next_offset, length(whole.b)) = s.s + octet_length(c.c)
                       AND (octet_length(c.c) <= 3 OR length(l.content) = 1))),
          0::bigint, 'from any offset, a page starts at the next whole character and ends where next_offset says');
SELECT is((SELECT content || '|' || coalesce(next_offset::text, 'end') FROM paperclip.read_log('14000000-0000-0000-0000-0000000000f1',
             (SELECT position('\xf09d849e'::bytea IN b) - 1 FROM whole), 1)),
          '𝄞|' || (SELECT position('\xf09d849e'::bytea IN b) + 3 FROM whole),
          'a character larger than the limit comes whole, even cut over rows');
SELECT is((SELECT content || '|' || coalesce(next_offset::text, 'end') FROM whole, paperclip.read_log('14000000-0000-0000-0000-0000000000f1',
             length(whole.b) + 10)), '|end', 'past the end: nothing, and next_offset is null');
SELECT is((SELECT store || ' ' || coalesce(log_ref, '-') FROM paperclip.read_log('14000000-0000-0000-0000-0000000000f1', 0, 1)),
          'db -', 'read_log says its store: db, no file');
-- a row missing in the middle is corruption, said plainly
DELETE FROM paperclip.run_log_chunks WHERE run_id = '14000000-0000-0000-0000-0000000000f1' AND byte_offset = 7;
SELECT throws_ok($$SELECT * FROM paperclip.read_log('14000000-0000-0000-0000-0000000000f1', 0, 100)$$,
                 'XX001', NULL, 'a gap in a log''s rows is reported as corruption (XX001), not read past');
SELECT is((SELECT content FROM paperclip.read_log('14000000-0000-0000-0000-0000000000f1', 200, 10)) IS NOT NULL, true,
          'what comes after the gap is still read');

-- 5. pruned runs lose their rows; nothing else does
UPDATE paperclip.heartbeat_runs SET finished_at = now() - interval '400 days'
 WHERE id IN ('14000000-0000-0000-0000-0000000000f1', '14000000-0000-0000-0000-0000000000fb');
SELECT ok((SELECT log_files >= 2 FROM paperclip.prune_expired()), 'prune_expired counts the runs whose log went');
SELECT is((SELECT count(*) FROM paperclip.run_log_chunks
            WHERE run_id IN ('14000000-0000-0000-0000-0000000000f1', '14000000-0000-0000-0000-0000000000fb')), 0::bigint,
          'and their rows are gone');

SELECT * FROM finish();
ROLLBACK;
