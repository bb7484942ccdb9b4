-- Every function, table, view and column of the extension has a comment, so
-- \df+ and \d+ explain it (issue 14). A new object without one fails here,
-- named in the diagnostics: add its COMMENT ON in your section of the
-- upgrade script.
BEGIN;
SELECT plan(6);

CREATE TEMP VIEW members AS
SELECT d.classid, d.objid
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'paperclip';

SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM members m JOIN pg_proc p ON p.oid = m.objid
   WHERE m.classid = 'pg_proc'::regclass
     AND coalesce(obj_description(p.oid, 'pg_proc'), '') = ''
   ORDER BY 1 $$,
  'every function of the extension has a comment');

SELECT is_empty($$
  SELECT c.oid::regclass::text FROM members m JOIN pg_class c ON c.oid = m.objid
   WHERE m.classid = 'pg_class'::regclass AND c.relkind IN ('r', 'p', 'f')
     AND coalesce(obj_description(c.oid, 'pg_class'), '') = ''
   ORDER BY 1 $$,
  'every table of the extension has a comment');

SELECT is_empty($$
  SELECT c.oid::regclass::text FROM members m JOIN pg_class c ON c.oid = m.objid
   WHERE m.classid = 'pg_class'::regclass AND c.relkind IN ('v', 'm')
     AND coalesce(obj_description(c.oid, 'pg_class'), '') = ''
   ORDER BY 1 $$,
  'every view of the extension has a comment');

SELECT is_empty($$
  SELECT c.oid::regclass::text || '.' || a.attname FROM members m
    JOIN pg_class c ON c.oid = m.objid
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
   WHERE m.classid = 'pg_class'::regclass AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
     AND coalesce(col_description(c.oid, a.attnum), '') = ''
   ORDER BY 1 $$,
  'every column of the extension''s tables and views has a comment');

SELECT is_empty($$
  SELECT t.evtname::text FROM members m JOIN pg_event_trigger t ON t.oid = m.objid
   WHERE m.classid = 'pg_event_trigger'::regclass
     AND coalesce(obj_description(t.oid, 'pg_event_trigger'), '') = ''
   ORDER BY 1 $$,
  'every event trigger of the extension has a comment');

-- the check sees what it should: the extension's own objects
SELECT cmp_ok((SELECT count(*) FROM members WHERE classid = 'pg_proc'::regclass), '>=', 30::bigint,
  'the extension''s functions are found as its members');

SELECT * FROM finish();
ROLLBACK;
