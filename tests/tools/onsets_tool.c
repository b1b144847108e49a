/* tutti-onsets: where the clicks (or any sharp onsets) of a rendered WAV
 * landed, as true times: one JSON line {"rate": R, "ns": [...]}, read with
 * tt_onsets (channel 1; the WAV's PATH.json maps samples to time and undoes
 * a simulated test clock). For tests that compare onsets with the map.
 *
 *   tutti-onsets FILE.wav [--whole-samples]
 */
#include "tt_error.h"
#include "tt_onsets.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *path = NULL;
    int whole = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--whole-samples"))
            whole = 1;
        else if (!path && argv[i][0] != '-')
            path = argv[i];
        else {
            fprintf(stderr, "usage: tutti-onsets FILE.wav [--whole-samples]\n");
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: tutti-onsets FILE.wav [--whole-samples]\n");
        return 2;
    }
    char why[TT_WHY_LEN];
    tt_onsets_t o;
    if (tt_onsets_read(path, whole, &o, why) != 0) {
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
