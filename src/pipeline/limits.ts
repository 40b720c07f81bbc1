/** At most this many problem rows per check and run: a broken IdP must not flood the database. */
export const PROBLEM_ROWS_PER_CHECK = 1000;
