/*
 * wsgid_values.c: the grammars shared with wsgid/options.py (see wsgid_values.h).
 */
#include <stdlib.h>
#include <string.h>

#include "wsgid_values.h"

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int wsgid_parse_seconds(const char *text, int allow_zero, double *seconds)
{
    const char *c = text;
    double n;

    while (is_digit(*c)) {
        c++;
    }
    if (*c == '.') {
        const char *fraction = ++c;

        while (is_digit(*c)) {
            c++;
        }
        if (c == fraction) {
            return 0;           /* "5." or "." */
        }
    }
    else if (c == text) {
        return 0;               /* no digits at all */
    }
    if (*c != '\0') {
        return 0;
    }
    n = strtod(text, NULL);
    if (n == 0 && !allow_zero) {
        return 0;
    }
    *seconds = n > WSGID_SECONDS_MAX ? WSGID_SECONDS_MAX : n;
    return 1;
}

const char *wsgid_group_name_problem(const char *name)
{
    const unsigned char *c;

    if (*name == '\0') {
        return "is empty";
    }
    for (c = (const unsigned char *)name; *c; c++) {
        if (*c <= ' ' || *c == 0x7f) {
            return "contains whitespace or control characters";
        }
    }
    if (strchr(name, '=') != NULL) {
        return "contains '='";
    }
    if (strchr(name, '/') != NULL) {
        return "contains '/'";
    }
    if (*name == '%') {
        return "starts with '%'";
    }
    if (*name == '.') {
        return "starts with '.'";
    }
    if (strlen(name) > WSGID_GROUP_NAME_MAX) {
        return "is longer than 64 bytes";
    }
    return NULL;
}
