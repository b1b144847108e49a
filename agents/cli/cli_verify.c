/* cli_verify: see cli_verify.h. Offline checks that need no coordinator:
 * a store's chain and signatures, and where recorded clicks landed. */
#define _POSIX_C_SOURCE 200809L
#include "cli_verify.h"
#include "tt_chain.h"
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_onsets.h"
#include "tt_store.h"
#include "tt_text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_verify_clicks(const tt_conn_opts_t *o, int argc, char **argv)
{
    (void)o;
    static const char usage[] = "usage: tutti clicks REF.wav OTHER.wav... [--json] "
                                "[--whole-samples] [--ref-delay SAMPLES]\n";
    int as_json = 0, nfiles = 0, whole = 0;
    long ref_delay = 0;
    const char *files[64];
    for (int i = 1; i < argc; i++) {
        char *end;
        if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else if (!strcmp(argv[i], "--whole-samples")) {
            whole = 1;
        } else if (!strcmp(argv[i], "--ref-delay") && i + 1 < argc) {
            errno = 0;
            ref_delay = strtol(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || ref_delay < -10000000 || ref_delay > 10000000) {
                fprintf(stderr, "tutti clicks: --ref-delay %s: a whole number of samples\n",
                        argv[i]);
                return EXIT_USAGE;
            }
        } else if (argv[i][0] != '-' && nfiles < 64) {
            files[nfiles++] = argv[i];
        } else {
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (nfiles < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    char why[TT_WHY_LEN];
    tt_onsets_t ref;
    if (tt_onsets_read(files[0], whole, &ref, why) != 0) {
        fprintf(stderr, "tutti clicks: %s\n", why);
        return 1;
    }
    /* REF sounds this much later than recorded (e.g. its port's playback
     * latency): compare where it is heard. */
    for (size_t i = 0; i < ref.n; i++)
        ref.ns[i] += (int64_t)llround((double)ref_delay * 1e9 / (ref.rate ? ref.rate : 48000));
    int rc = 0;
    if (!as_json)
        printf("%-40s %7s %8s %12s %12s\n", "file", "clicks", "paired", "max |d| smp",
               "mean d smp");
    for (int i = 1; i < nfiles && rc == 0; i++) {
        tt_onsets_t other;
        if (tt_onsets_read(files[i], whole, &other, why) != 0) {
            fprintf(stderr, "tutti clicks: %s\n", why);
            rc = 1;
            break;
        }
        size_t paired;
        double max_abs, mean;
        tt_onsets_compare(&ref, &other, &paired, &max_abs, &mean);
        if (as_json) {
            json_t *o = json_pack(
                "{s:s, s:s, s:I, s:I, s:I, s:f, s:f}", "file", files[i], "reference", files[0],
                "clicks", (json_int_t)other.n, "reference_clicks", (json_int_t)ref.n, "paired",
                (json_int_t)paired, "max_abs_samples", max_abs, "mean_samples", mean);
            cli_print_json_line(o);
            json_decref(o);
        } else {
            printf("%-40s %7zu %8zu %12.2f %+12.2f\n", files[i], other.n, paired, max_abs, mean);
        }
        tt_onsets_free(&other);
    }
    tt_onsets_free(&ref);
    return rc;
}

int cli_verify_store(const tt_conn_opts_t *o, int argc, char **argv)
{
    (void)o;
    const char *dir = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else {
            fprintf(stderr, "usage: tutti verify DIR [--json]\n");
            return EXIT_USAGE;
        }
    }
    if (!dir) {
        fprintf(stderr, "usage: tutti verify DIR [--json]\n");
        return EXIT_USAGE;
    }
    char why[TT_WHY_LEN];
    tt_store_t *store = tt_store_open(dir, 1, 0, why);
    if (!store) {
        fprintf(stderr, "tutti verify: %s\n", why);
        return 1;
    }
    tt_chain_report_t rep;
    int rc = tt_chain_verify_store(store, NULL, &rep, why);
    tt_store_destroy(&store);
    char hash[2 * TT_HASH_LEN + 1], pk[2 * TT_SIGN_PK_LEN + 1];
    tt_hex_encode(rep.head_hash, TT_HASH_LEN, hash);
    tt_hex_encode(rep.signing_pk, TT_SIGN_PK_LEN, pk);
    if (rc == 0 && rep.records == 0) {
        rc = TT_ERR_CORRUPT;
        rep.bad_seq = 1;
        snprintf(why, sizeof why, "the log is empty: no genesis record");
    }
    if (as_json) {
        json_t *o = json_object();
        json_object_set_new(o, "ok", json_boolean(rc == 0));
        json_object_set_new(o, "records", json_integer((json_int_t)rep.records));
        json_object_set_new(o, "last_seq", json_integer((json_int_t)rep.last_seq));
        json_object_set_new(o, "head_hash", json_string(hash));
        json_object_set_new(o, "signing_key", json_string(pk));
        if (rc != 0) {
            json_object_set_new(o, "bad_seq", json_integer((json_int_t)rep.bad_seq));
            json_object_set_new(o, "error", json_string(why));
        }
        cli_print_json_line(o);
        json_decref(o);
    } else if (rc == 0) {
        printf("%s: %llu records, 1..%llu, chain and signatures good, head %s\n", dir,
               (unsigned long long)rep.records, (unsigned long long)rep.last_seq, hash);
    }
    if (rc != 0) {
        fprintf(stderr, "tutti verify: %s: FAILED at record %llu: %s\n", dir,
                (unsigned long long)rep.bad_seq, why);
        return rc == TT_ERR_CORRUPT ? EXIT_REFUSED : 1;
    }
    return 0;
}
