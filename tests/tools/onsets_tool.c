/* tutti-onsets: where the clicks (or any sharp onsets) of a rendered WAV
 * landed, as true times: one JSON line {"rate": R, "ns": [...]}, read with
 * tt_onsets (channel 1; the WAV's PATH.json maps samples to time and undoes
 * a simulated test clock). For tests that compare onsets with the map.
 *
 *   tutti-onsets FILE.wav [--whole-samples]
 *   tutti-onsets FILE.wav --ref SOUND.wav [--ref-ms MS]
 *
 * --ref: FILE holds copies of the sound that starts SOUND (its first MS ms
 * from its first sample above 0.05, default 40: give it the whole sound),
 * e.g. a prelay's bursts as a room played them; each is placed where that
 * sound, read band-limited, fits best (tt_onsets_read_ref), to a fraction
 * of a sample however it was rendered.
 */
#include "tt_error.h"
#include "tt_onsets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: tutti-onsets FILE.wav [--whole-samples]\n"
                    "       tutti-onsets FILE.wav --ref SOUND.wav [--ref-ms MS]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *ref_path = NULL;
    int whole = 0;
    double ref_ms = 40;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--whole-samples"))
            whole = 1;
        else if (!strcmp(argv[i], "--ref") && i + 1 < argc)
            ref_path = argv[++i];
        else if (!strcmp(argv[i], "--ref-ms") && i + 1 < argc) {
            char *end;
            ref_ms = strtod(argv[++i], &end);
            if (*end || ref_ms < 1 || ref_ms > 1000) {
                fprintf(stderr, "tutti-onsets: --ref-ms %s: 1..1000\n", argv[i]);
                return 2;
            }
        } else if (!path && argv[i][0] != '-')
            path = argv[i];
        else
            return usage();
    }
    if (!path || (whole && ref_path))
        return usage();
    char why[TT_WHY_LEN];
    tt_onsets_t o;
    int rc;
    if (ref_path) {
        tt_onsets_ref_t ref;
        if (tt_onsets_ref_load(ref_path, ref_ms, &ref, why) != 0) {
            fprintf(stderr, "tutti-onsets: %s\n", why);
            return 1;
        }
        rc = tt_onsets_read_ref(path, &ref, &o, why);
        tt_onsets_ref_free(&ref);
    } else
        rc = tt_onsets_read(path, whole, &o, why);
    if (rc != 0) {
        fprintf(stderr, "tutti-onsets: %s\n", why);
        return 1;
    }
    printf("{\"rate\": %d, \"ns\": [", o.rate);
    for (size_t i = 0; i < o.n; i++)
        printf("%s%lld", i ? ", " : "", (long long)o.ns[i]);
    printf("]}\n");
    tt_onsets_free(&o);
    return 0;
}
