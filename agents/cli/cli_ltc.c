/* cli_ltc: `tutti ltc read FILE [--channel N] [--fps RATE] [--json]`.
 *
 * A thin shell over tt_ltc_read_file: parse flags, print one line per frame
 * as it is found (so a long take streams), and turn the module's errors
 * into a message and an exit status. The rate in use goes to stderr, so
 * stdout stays one frame per line for scripts.
 */
#include "cli_ltc.h"

#include "tt_error.h"
#include "tt_ltc.h"
#include "tt_timecode.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_FAIL 1
#define EXIT_USAGE 2

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: tutti ltc read FILE [--channel N] [--fps RATE] [--json]\n"
            "\n"
            "Find the SMPTE linear timecode (LTC) recorded on one channel of an audio file\n"
            "and print, for every frame, its timecode and the sample where it starts (the\n"
            "leading edge of bit 0, counted from the file's first sample, 0-based). Any file\n"
            "libsndfile reads works: WAV, BWF, AIFF, FLAC, ...\n"
            "\n"
            "Options:\n"
            "  --channel N   channel holding the LTC, 1-based (default 1)\n"
            "  --fps RATE    frame rate of the timecode: 23.976, 24, 25, 29.97df, 29.97ndf,\n"
            "                30, or auto (default auto: the drop-frame bit, the highest\n"
            "                frame label and the measured frame length decide; the choice\n"
            "                is printed on stderr). Give it when the take holds less than a\n"
            "                second of LTC or the recorder's sample rate is off by more\n"
            "                than 0.05 %%\n"
            "  --json        one JSON object per line instead of plain text:\n"
            "                {\"tc\":\"01:00:00;00\",\"frame\":107892,\"sample\":12345}\n"
            "                (frame: frames since 00:00:00:00 at the rate; a frame played\n"
            "                backwards also has \"reverse\":true)\n"
            "  -h, --help    this text\n"
            "\n"
            "Plain output is \"TIMECODE SAMPLE\" per line, e.g. \"01:00:00:00 48000\"; drop-frame\n"
            "labels use ';' before the frames. A frame played backwards gets \" reverse\"\n"
            "appended (its sample is approximate). Frames whose label cannot exist at the\n"
            "rate are skipped; the last frame is printed only if the edge that ends it was\n"
            "recorded.\n"
            "\n"
            "Exit status: 0 frames found, 1 failure (unreadable file, channel out of\n"
            "range, no LTC found, output error), 2 bad usage.\n"
            "\n"
            "Examples:\n"
            "  tutti ltc read take12.wav --channel 2\n"
            "  tutti ltc read take12.wav --channel 2 --fps 29.97df --json | head -1\n");
}

typedef struct {
    const char *path;
    int channel;
    int json;
    int fps_auto;
    int announced;
    int out_error; /* errno of a failed write to stdout */
} print_ctx_t;

static int print_frame(void *arg, const tt_ltc_frame_t *f)
{
    print_ctx_t *p = arg;
    if (!p->announced) {
        fprintf(stderr, "tutti ltc read: %s channel %d: LTC at %s fps%s\n", p->path, p->channel,
                tt_fps_name(f->fps), p->fps_auto ? " (detected; --fps to override)" : "");
        p->announced = 1;
    }
    errno = 0;
    if (p->json) {
        json_t *o = json_pack("{s:s, s:I, s:I}", "tc", f->tc, "frame", (json_int_t)f->frame,
                              "sample", (json_int_t)f->start_sample);
        if (o && f->reverse)
            json_object_set_new(o, "reverse", json_true());
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!s) {
            p->out_error = ENOMEM;
            return 1;
        }
        int rc = printf("%s\n", s);
        free(s);
        if (rc < 0) {
            p->out_error = errno ? errno : EIO;
            return 1;
        }
    } else if (printf("%s %lld%s\n", f->tc, (long long)f->start_sample,
                      f->reverse ? " reverse" : "") < 0) {
        p->out_error = errno ? errno : EIO;
        return 1;
    }
    return 0;
}

/* "--name VALUE" or "--name=VALUE"; advances *i past a separate value.
 * Returns the value, NULL if this argument is not --name, and sets *missing
 * if --name has no value. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *missing)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

static int cmd_read(int argc, char **argv)
{
    print_ctx_t p = {.channel = 1, .fps_auto = 1};
    tt_fps_t fps = TT_LTC_FPS_AUTO;
    char why[TT_WHY_LEN];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int missing = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            p.json = 1;
        } else if ((v = opt_value(argc, argv, &i, "--channel", &missing)) != NULL) {
            char *end;
            errno = 0;
            long ch = strtol(v, &end, 10);
            if (errno || end == v || *end || ch < 1 || ch > 4096) {
                fprintf(stderr,
                        "tutti ltc read: --channel wants a channel number 1..4096, "
                        "not \"%s\"\n",
                        v);
                return EXIT_USAGE;
            }
            p.channel = (int)ch;
        } else if ((v = opt_value(argc, argv, &i, "--fps", &missing)) != NULL) {
            if (strcmp(v, "auto") == 0) {
                fps = TT_LTC_FPS_AUTO;
            } else if (tt_fps_parse(v, &fps, why) != 0) {
                fprintf(stderr, "tutti ltc read: --fps: %s (or auto)\n", why);
                return EXIT_USAGE;
            }
            p.fps_auto = fps == TT_LTC_FPS_AUTO;
        } else if (missing) {
            fprintf(stderr, "tutti ltc read: %s needs a value (see tutti ltc read --help)\n", a);
            return EXIT_USAGE;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "tutti ltc read: unknown option '%s' (see tutti ltc read --help)\n", a);
            return EXIT_USAGE;
        } else if (!p.path) {
            p.path = a;
        } else {
            fprintf(stderr, "tutti ltc read: one FILE only ('%s' and '%s')\n", p.path, a);
            return EXIT_USAGE;
        }
    }
    if (!p.path) {
        fprintf(stderr, "usage: tutti ltc read FILE [--channel N] [--fps RATE] [--json]\n");
        return EXIT_USAGE;
    }

    tt_ltc_stats_t st;
    int rc = tt_ltc_read_file_ex(p.path, p.channel, fps, print_frame, &p, &st, why);
    /* Say what was left out, so a wrong --fps does not go unnoticed. */
    if (rc == 0 && st.frames_skipped > 0)
        fprintf(stderr,
                "tutti ltc read: warning: %lld of %lld frames skipped: their labels do not "
                "exist at %s fps (first: %s); wrong --fps?\n",
                st.frames_skipped, st.frames_found, tt_fps_name(st.fps), st.first_skipped);
    if (rc == 0 && st.frames_found > 0 &&
        (st.drop_flagged * 2 > st.frames_found) != (tt_fps_is_drop(st.fps) != 0))
        fprintf(stderr,
                "tutti ltc read: warning: the LTC's drop-frame flag is %s but the rate is %s\n",
                st.drop_flagged * 2 > st.frames_found ? "set" : "clear", tt_fps_name(st.fps));
    if (rc == 0 && fflush(stdout) != 0) {
        rc = 1;
        p.out_error = errno ? errno : EIO;
    }
    if (rc > 0 || p.out_error) {
        fprintf(stderr, "tutti ltc read: writing the output: %s\n", strerror(p.out_error));
        return EXIT_FAIL;
    }
    if (rc < 0) {
        fprintf(stderr, "tutti ltc read: %s\n", why);
        return EXIT_FAIL;
    }
    return 0;
}

int cli_ltc_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "read") == 0)
        return cmd_read(argc - 1, argv + 1);
    fprintf(stderr, "tutti ltc: unknown subcommand '%s' (the one there is: tutti ltc read)\n",
            argv[1]);
    return EXIT_USAGE;
}
