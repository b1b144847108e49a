/* cli_verify: see cli_verify.h. Offline checks that need no coordinator:
 * a store's chain and signatures, its snapshots against the fold, and
 * where recorded clicks landed. */
#define _POSIX_C_SOURCE 200809L
#include "cli_verify.h"
#include "tt_chain.h"
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_onsets.h"
#include "tt_session_snap.h"
#include "tt_snapshot.h"
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

#define VERIFY_MAX_SNAPSHOTS 64

/* What tutti verify found of one stored snapshot. */
typedef struct {
    uint64_t seq;
    int verdict; /* 0 equals the fold; 1 ignored (another format); -1 bad */
    char text[TT_WHY_LEN];
} snap_check_t;

typedef struct {
    tt_session_t fold;
    char why[TT_WHY_LEN]; /* why the fold refused a record */
} snap_fold_t;

/* Compares snapshot c with fold, which stands at its seq. */
static void check_snapshot(tt_store_t *store, const uint8_t *pk, const tt_session_t *fold,
                           snap_check_t *c)
{
    uint8_t *data = NULL;
    size_t len = 0;
    Tutti__Snapshot *snap = NULL;
    char why[TT_WHY_LEN];
    int rc = tt_store_snapshot_get(store, c->seq, &data, &len, why);
    if (rc == 0) {
        Tutti__Snapshot *raw = tutti__snapshot__unpack(NULL, len, data);
        if (raw && raw->format != TT_SNAPSHOT_FORMAT) {
            snprintf(c->text, sizeof c->text,
                     "is of format %d (this build writes %d): ignored at start, not compared",
                     (int)raw->format, (int)TT_SNAPSHOT_FORMAT);
            c->verdict = 1;
        }
        if (raw)
            tutti__snapshot__free_unpacked(raw, NULL);
        if (c->verdict == 1) {
            free(data);
            return;
        }
        rc = tt_snapshot_open(data, len, c->seq, &snap, why);
    }
    free(data);
    if (rc == 0)
        rc = tt_snapshot_check_head(store, snap, pk, why);
    tt_session_t st;
    tt_session_init(&st);
    if (rc == 0)
        rc = tt_session_snap_decode(&st, snap->state.data, snap->state.len, why);
    char where[256];
    int differs = rc == 0 && tt_session_snap_diff(fold, &st, where, sizeof where) != 0;
    tt_session_clear(&st);
    if (snap)
        tutti__snapshot__free_unpacked(snap, NULL);
    c->verdict = rc == 0 && !differs ? 0 : -1;
    if (differs)
        snprintf(c->text, sizeof c->text, "differs from the fold: %.200s (fold vs snapshot)",
                 where);
    else
        snprintf(c->text, sizeof c->text, "%s%.200s",
                 rc == 0 ? "equals the fold" : "is bad: ", rc == 0 ? "" : why);
}

/* Folds one record (its chain was checked already). */
static int fold_record(void *arg, uint64_t seq, const uint8_t *data, size_t len)
{
    snap_fold_t *f = arg;
    (void)seq;
    Tutti__SignedRecord *sr = tutti__signed_record__unpack(NULL, len, data);
    Tutti__Record *rec = sr ? tutti__record__unpack(NULL, sr->record.len, sr->record.data) : NULL;
    uint8_t hash[TT_HASH_LEN];
    tt_chain_hash(data, len, hash);
    int rc = 1;
    if (!rec)
        snprintf(f->why, sizeof f->why, "it does not decode");
    else if (tt_session_apply(&f->fold, rec, hash, f->why) == 0)
        rc = 0;
    if (rec)
        tutti__record__free_unpacked(rec, NULL);
    if (sr)
        tutti__signed_record__free_unpacked(sr, NULL);
    return rc;
}

/* Every stored snapshot against the fold of the (verified) log, folded
 * up to each snapshot's seq in turn (between scans: LMDB allows one read
 * transaction per thread, and the checks read the store). Fills
 * checks[0..*n); returns the seq of the first bad one, 0 when none. */
static uint64_t verify_snapshots(tt_store_t *store, const tt_chain_report_t *rep,
                                 snap_check_t *checks, size_t *n, char *why)
{
    uint64_t seqs[VERIFY_MAX_SNAPSHOTS];
    *n = 0;
    if (tt_store_snapshot_seqs(store, seqs, VERIFY_MAX_SNAPSHOTS, n, why) != 0)
        return rep->last_seq + 1;
    snap_fold_t f;
    tt_session_init(&f.fold);
    const char *stuck = NULL; /* why the fold cannot go on */
    char swhy[TT_WHY_LEN];
    for (size_t i = 0; i < *n; i++) {
        snap_check_t *c = &checks[i];
        memset(c, 0, sizeof *c);
        c->seq = seqs[i];
        while (!stuck && f.fold.last_seq < c->seq && f.fold.last_seq < rep->last_seq) {
            uint64_t before = f.fold.last_seq, todo = c->seq - before;
            int rc = tt_store_scan(store, before + 1, todo < 4096 ? todo : 4096, SIZE_MAX,
                                   fold_record, &f, swhy);
            if (rc > 0) {
                snprintf(swhy, sizeof swhy, "the fold refuses record %llu: %.200s",
                         (unsigned long long)before + 1, f.why);
                stuck = swhy;
            } else if (rc < 0 || f.fold.last_seq == before)
                stuck = rc < 0 ? swhy : "the log ends";
        }
        if (f.fold.last_seq == c->seq) {
            check_snapshot(store, rep->signing_pk, &f.fold, c);
            continue;
        }
        c->verdict = -1;
        if (c->seq > rep->last_seq)
            snprintf(c->text, sizeof c->text, "of a record the log does not hold (it ends at %llu)",
                     (unsigned long long)rep->last_seq);
        else
            snprintf(c->text, sizeof c->text, "not compared: %.200s", stuck ? stuck : "");
    }
    tt_session_clear(&f.fold);
    for (size_t i = 0; i < *n; i++)
        if (checks[i].verdict < 0) {
            tt_fail(why, TT_ERR_CORRUPT, "the snapshot at seq %llu %s",
                    (unsigned long long)checks[i].seq, checks[i].text);
            return checks[i].seq;
        }
    return 0;
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
    static snap_check_t checks[VERIFY_MAX_SNAPSHOTS];
    size_t n_checks = 0;
    uint64_t bad_snapshot = 0;
    if (rc == 0 && rep.records > 0) {
        bad_snapshot = verify_snapshots(store, &rep, checks, &n_checks, why);
        if (bad_snapshot)
            rc = TT_ERR_CORRUPT;
    }
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
        json_t *snaps = json_array();
        for (size_t i = 0; i < n_checks; i++)
            json_array_append_new(snaps, json_pack("{s:I, s:s, s:s}", "seq",
                                                   (json_int_t)checks[i].seq, "verdict",
                                                   checks[i].verdict == 0   ? "equal"
                                                   : checks[i].verdict == 1 ? "ignored"
                                                                            : "bad",
                                                   "text", checks[i].text));
        json_object_set_new(o, "snapshots", snaps);
        if (rc != 0 && bad_snapshot)
            json_object_set_new(o, "bad_snapshot_seq", json_integer((json_int_t)bad_snapshot));
        else if (rc != 0)
            json_object_set_new(o, "bad_seq", json_integer((json_int_t)rep.bad_seq));
        if (rc != 0)
            json_object_set_new(o, "error", json_string(why));
        cli_print_json_line(o);
        json_decref(o);
    } else if (rc == 0) {
        printf("%s: %llu records, 1..%llu, chain and signatures good, head %s\n", dir,
               (unsigned long long)rep.records, (unsigned long long)rep.last_seq, hash);
        for (size_t i = 0; i < n_checks; i++)
            printf("%s: snapshot at seq %llu %s\n", dir, (unsigned long long)checks[i].seq,
                   checks[i].text);
    }
    if (rc != 0 && bad_snapshot) {
        fprintf(stderr, "tutti verify: %s: chain and signatures good up to %llu, but %s\n", dir,
                (unsigned long long)rep.last_seq, why);
        return EXIT_REFUSED;
    }
    if (rc != 0) {
        fprintf(stderr, "tutti verify: %s: FAILED at record %llu: %s\n", dir,
                (unsigned long long)rep.bad_seq, why);
        return rc == TT_ERR_CORRUPT ? EXIT_REFUSED : 1;
    }
    return 0;
}
