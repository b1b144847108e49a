#include "tt_diag.h"
#include "tt_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char diag_program[64] = "tutti";
static char diag_instance[64] = "";
static int diag_quiet = 0;

void tt_diag_init(const char *program, const char *instance)
{
    snprintf(diag_program, sizeof diag_program, "%s", program ? program : "tutti");
    snprintf(diag_instance, sizeof diag_instance, "%s", instance ? instance : "");
}

void tt_diag_set_quiet(int quiet)
{
    diag_quiet = quiet;
}

static void emit(const char *level, const char *fmt, va_list ap)
{
    char when[40];
    tt_time_iso8601(tt_time_wall_ns(), when, sizeof when);
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    if (diag_instance[0])
        fprintf(stderr, "%s %s[%s] %s: %s\n", when, diag_program, diag_instance, level, line);
    else
        fprintf(stderr, "%s %s %s: %s\n", when, diag_program, level, line);
}

void tt_diag_info(const char *fmt, ...)
{
    if (diag_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit("info", fmt, ap);
    va_end(ap);
}

void tt_diag_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("warn", fmt, ap);
    va_end(ap);
}

void tt_diag_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("error", fmt, ap);
    va_end(ap);
}
