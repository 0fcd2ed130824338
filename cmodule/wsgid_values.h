/*
 * wsgid_values.h: the grammars of the values that both the module and the supervisor read,
 * written in plain C (no APR) so that tests/unit/test_c_python_agree.py can feed the same
 * inputs to these functions and to wsgid/options.py and require the same verdicts.
 */
#ifndef WSGID_VALUES_H
#define WSGID_VALUES_H

/* The largest number of seconds an option gives; more is clamped to it.  mod_wsgi reads them
 * with atoi(), so real configurations write INT_MAX for "never" (socket-timeout=2147483647);
 * in microseconds it fits apr_time_t.  options.py: SECONDS_MAX. */
#define WSGID_SECONDS_MAX 2147483647.0

/* A group name is part of a socket file name whose whole path must fit sun_path.
 * options.py: GROUP_NAME_MAX. */
#define WSGID_GROUP_NAME_MAX 64

/* A number of seconds, as options.py's seconds(): digits with an optional decimal part
 * ("2", "0.5", ".5"; not "5." nor "1e3"), more than 0 unless allow_zero; clamped at
 * WSGID_SECONDS_MAX.  1 with *seconds set, or 0 when `text` is not such a number. */
int wsgid_parse_seconds(const char *text, int allow_zero, double *seconds);

/* NULL when `name` may name a daemon group, else what is wrong with it ("contains '/'"), to
 * follow "the group name 'NAME' ".  options.py: check_group_name. */
const char *wsgid_group_name_problem(const char *name);

#endif
