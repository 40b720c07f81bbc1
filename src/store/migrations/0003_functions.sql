-- The keys of a whose values differ in b, with a's values: the "before" half of a change record.
CREATE FUNCTION dirsync.jsonb_delta(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(jsonb_object_agg(k, a -> k), '{}'::jsonb)
    FROM jsonb_object_keys(coalesce(a, '{}'::jsonb) || coalesce(b, '{}'::jsonb)) AS k
   WHERE (a -> k) IS DISTINCT FROM (b -> k)
$$;
