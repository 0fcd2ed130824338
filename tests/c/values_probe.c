/*
 * values_probe.c: runs cmodule/wsgid_values.c on inputs from stdin, one per line, for
 * tests/unit/test_c_python_agree.py, which gives the same inputs to wsgid/options.py.
 *
 * Each input line is "seconds TEXT", "seconds0 TEXT" (zero allowed) or "group TEXT"; each
 * output line is the verdict: "ok VALUE" (seconds, printed with %.17g) or "ok" (group), else
 * "bad" (seconds) or "bad PROBLEM" (group).
 */
#include <stdio.h>
#include <string.h>

#include "wsgid_values.h"

int main(void)
{
    char line[4096];

    while (fgets(line, sizeof(line), stdin) != NULL) {
        char *text = strchr(line, ' ');
        double seconds;
        const char *problem;

        line[strcspn(line, "\n")] = '\0';
        if (text == NULL) {
            printf("? %s\n", line);
            continue;
        }
        *text++ = '\0';
        if (strcmp(line, "group") == 0) {
            problem = wsgid_group_name_problem(text);
            printf(problem ? "bad %s\n" : "ok\n", problem);
        }
        else if (wsgid_parse_seconds(text, strcmp(line, "seconds0") == 0, &seconds)) {
            printf("ok %.17g\n", seconds);
        }
        else {
            printf("bad\n");
        }
    }
    return 0;
}
