/* tutti-bench-click: do the rooms click on the same sample?
 *
 * Runs a coordinator and three agents rendering the same roll to WAV, two
 * of them on injected clocks (offset +-2.5 s, skew +-150 ppm). Every click
 * onset is found from the audio samples, mapped to true time through the
 * agent's (known) injected clock, and compared across rooms and against
 * the tempo map's exact times. The LTC channel is decoded with libltc and
 * every frame checked against the timecode expected at its true time.
 * Prints one JSON object.
 */
#define _GNU_SOURCE
#include "bench_proc.h"
#include "tt_client.h"
#include "tt_error.h"
#include "tt_file.h"
#include "tt_keys.h"
#include "tt_ltc.h"
#include "tt_onsets.h"
#include "tt_tempo.h"
#include "tt_time.h"
#include "tt_timecode.h"

#include <jansson.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define ROOMS 3
#define MAX_ONSETS 20000

typedef struct {
    const char *name;
    long offset_us;
    double skew_ppm;
    char wav[1200];
    tt_onsets_t onsets; /* true session ns */
    tt_wav_clock_t clock;
    long ltc_frames, ltc_bad;
} room_t;

typedef struct {
    room_t *room;
    int64_t cue_origin_session; /* session time of cue time 0 */
    int64_t start_frame;
    tt_fps_t fps;
    int64_t roll_start;
} ltc_check_t;

static int check_ltc_frame(void *arg, const tt_ltc_frame_t *f)
{
    ltc_check_t *c = arg;
    int64_t mid = tt_wav_clock_true_ns(&c->room->clock, (f->start_sample + f->end_sample) / 2);
    int64_t cue = mid - c->cue_origin_session;
    int64_t expected =
        tt_timecode_ns_to_frame(cue + tt_timecode_frame_to_ns(c->start_frame, c->fps), c->fps);
    c->room->ltc_frames++;
    if (expected != f->frame)
        c->room->ltc_bad++;
    return 0;
}

static int request(tt_client_t *cl, Tutti__Envelope *env, Tutti__Envelope **reply)
{
    char why[TT_WHY_LEN];
    int rc = tt_client_request(cl, env, reply, 5000, why);
    if (rc != 0)
        fprintf(stderr, "tutti-bench-click: %s\n", why);
    return rc;
}

int main(int argc, char **argv)
{
    const char *map_path = NULL;
    double duration = 16;
    long lead_ms = 1000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--map") && i + 1 < argc)
            map_path = argv[++i];
        else if (!strcmp(argv[i], "--duration") && i + 1 < argc)
            duration = atof(argv[++i]);
        else if (!strcmp(argv[i], "--lead-ms") && i + 1 < argc)
            lead_ms = atol(argv[++i]);
        else {
            printf("Usage: tutti-bench-click [--map FILE.tempo] [--duration S] [--lead-ms MS]\n\n"
                   "Three agents (one real clock, two injected: +2.5 s/+150 ppm and\n"
                   "-2.5 s/-150 ppm) render the same roll to WAV; prints onsets,\n"
                   "max_spread_samples (between rooms, same beat), max_model_error_samples\n"
                   "(against the tempo map), ltc_frames and ltc_errors. --lead-ms 1 makes\n"
                   "the roll arrive after its start: clicks must still land on the map.\n"
                   "Default map: deploy/tempo/example-1m1.tempo beside the build.\n");
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    bench_env_t env;
    if (bench_env_init(&env, "tutti-bench-click") != 0)
        return 1;
    char default_map[1200];
    snprintf(default_map, sizeof default_map, "%s/../../deploy/tempo/example-1m1.tempo",
             env.bin_dir);
    if (!map_path)
        map_path = getenv("TUTTI_EXAMPLE_MAP") ? getenv("TUTTI_EXAMPLE_MAP") : default_map;
    char why[TT_WHY_LEN], *map_text = NULL;
    size_t map_len = 0;
    int rc = 1;
    room_t rooms[ROOMS] = {{.name = "stage"},
                           {.name = "london", .offset_us = 2500000, .skew_ppm = 150},
                           {.name = "home", .offset_us = -2500000, .skew_ppm = -150}};
    void *ctx = NULL;
    tt_client_t *cl = NULL;
    tt_keypair_t *op = NULL;
    tt_tempo_map_t *map = NULL;
    if (tt_file_read(map_path, 65536, &map_text, &map_len, why) != 0 ||
        !(map = tt_tempo_parse_text(map_text, map_len, why))) {
        fprintf(stderr, "tutti-bench-click: %s\n", why);
        goto out;
    }
    const char *names[] = {"coordinator", "conductor", "stage", "london", "home"};
    for (int i = 0; i < 5; i++)
        if (bench_keygen(&env, names[i]) != 0)
            goto out;
    char access[1200], pk[64];
    snprintf(access, sizeof access, "%s/access", env.tmp);
    FILE *f = fopen(access, "w");
    if (!f)
        goto out;
    bench_pubkey(&env, "conductor", pk);
    fprintf(f, "operator conductor %s\n", pk);
    for (int i = 0; i < ROOMS; i++) {
        bench_pubkey(&env, rooms[i].name, pk);
        fprintf(f, "room %s %s\n", rooms[i].name, pk);
    }
    fclose(f);
    char eps[3][256], skey[1200];
    snprintf(skey, sizeof skey, "%s/keys/coordinator.pub", env.tmp);
    if (bench_start_coordinator(&env, eps) != 0)
        goto out;
    char *ep = eps[0];
    for (int i = 0; i < ROOMS; i++) {
        room_t *r = &rooms[i];
        char akey[1200], adata[1200], off[32], sk[32];
        snprintf(akey, sizeof akey, "%s/keys/%s.key", env.tmp, r->name);
        snprintf(adata, sizeof adata, "%s/agent-%s", env.tmp, r->name);
        snprintf(r->wav, sizeof r->wav, "%s/%s.wav", env.tmp, r->name);
        snprintf(off, sizeof off, "%ld", r->offset_us);
        snprintf(sk, sizeof sk, "%g", r->skew_ppm);
        char *aargv[] = {"",
                         "--room",
                         (char *)r->name,
                         "--coordinator",
                         ep,
                         "--server-key",
                         skey,
                         "--key",
                         akey,
                         "--data",
                         adata,
                         "--clock-offset-us",
                         off,
                         "--clock-skew-ppm",
                         sk,
                         "--click-wav",
                         r->wav,
                         NULL};
        if (bench_spawn(&env, r->name, "tutti-agent", aargv) < 0)
            goto out;
    }
    char opkey_path[1200], server_key[64];
    snprintf(opkey_path, sizeof opkey_path, "%s/keys/conductor.key", env.tmp);
    op = tt_keypair_load(opkey_path, why);
    tt_pubkey_load(skey, server_key, why);
    ctx = zmq_ctx_new();
    cl = op ? tt_client_new(ctx, ep, server_key, op, 0, why) : NULL;
    if (!cl)
        goto out;
    /* Wait until every room's clock is locked. */
    int locked = 0;
    for (int tries = 0; tries < 100 && locked < ROOMS; tries++) {
        bench_sleep_s(0.2);
        Tutti__Envelope e = TUTTI__ENVELOPE__INIT, *rep = NULL;
        Tutti__StatusRequest sr = TUTTI__STATUS_REQUEST__INIT;
        e.body_case = TUTTI__ENVELOPE__BODY_STATUS;
        e.status = &sr;
        if (request(cl, &e, &rep) != 0)
            goto out;
        locked = 0;
        for (size_t i = 0; i < rep->status_reply->n_rooms; i++) {
            Tutti__ClockReport *c = rep->status_reply->rooms[i]->clock;
            locked += c && !strcmp(c->state, "locked");
        }
        tutti__envelope__free_unpacked(rep, NULL);
    }
    if (locked < ROOMS) {
        fprintf(stderr, "tutti-bench-click: rooms did not lock (see %s)\n", env.tmp);
        goto out;
    }
    bench_sleep_s(2.0); /* let the estimators settle past their first fits */
    Tutti__Envelope e = TUTTI__ENVELOPE__INIT, *rep = NULL;
    Tutti__TempoLoadRequest tl = TUTTI__TEMPO_LOAD_REQUEST__INIT;
    tl.cue = "1M1";
    tl.map_text = map_text;
    tl.source = (char *)map_path;
    e.body_case = TUTTI__ENVELOPE__BODY_TEMPO_LOAD;
    e.tempo_load = &tl;
    if (request(cl, &e, &rep) != 0)
        goto out;
    tutti__envelope__free_unpacked(rep, NULL);
    Tutti__Envelope ea = TUTTI__ENVELOPE__INIT;
    Tutti__ArmRequest ar = TUTTI__ARM_REQUEST__INIT;
    ar.cue = "1M1";
    ea.body_case = TUTTI__ENVELOPE__BODY_ARM;
    ea.arm = &ar;
    if (request(cl, &ea, &rep) != 0)
        goto out;
    tutti__envelope__free_unpacked(rep, NULL);
    Tutti__Envelope e2 = TUTTI__ENVELOPE__INIT;
    Tutti__RollRequest rr = TUTTI__ROLL_REQUEST__INIT;
    rr.cue = "1M1";
    rr.lead_ms = (uint32_t)lead_ms;
    e2.body_case = TUTTI__ENVELOPE__BODY_ROLL;
    e2.roll = &rr;
    if (request(cl, &e2, &rep) != 0)
        goto out;
    uint64_t roll_seq = rep->write_reply->seq;
    tutti__envelope__free_unpacked(rep, NULL);
    /* The roll's start time is in its record. */
    Tutti__Envelope e3 = TUTTI__ENVELOPE__INIT;
    Tutti__FetchRequest fr = TUTTI__FETCH_REQUEST__INIT;
    fr.from_seq = roll_seq;
    fr.max_records = 1;
    e3.body_case = TUTTI__ENVELOPE__BODY_FETCH;
    e3.fetch = &fr;
    if (request(cl, &e3, &rep) != 0 || rep->fetch_reply->n_records != 1)
        goto out;
    Tutti__SignedRecord *srec = tutti__signed_record__unpack(NULL, rep->fetch_reply->records[0].len,
                                                             rep->fetch_reply->records[0].data);
    Tutti__Record *rec =
        srec ? tutti__record__unpack(NULL, srec->record.len, srec->record.data) : NULL;
    int64_t roll_start =
        rec && rec->body_case == TUTTI__RECORD__BODY_ROLL ? rec->roll->start_session_ns : 0;
    if (rec)
        tutti__record__free_unpacked(rec, NULL);
    if (srec)
        tutti__signed_record__free_unpacked(srec, NULL);
    tutti__envelope__free_unpacked(rep, NULL);
    if (!roll_start)
        goto out;
    bench_sleep_s(duration);
    /* Only clicks every room has written whole: the agents stop one after
     * another, and a click cut off a ms after its onset by the end of the
     * first room's file (measured: 2 ms) cannot be timed below a sample
     * (its frequency comes from its zero crossings) and showed up as 10-15
     * µs of spread that the clocks did not have. So: up to now, less one
     * click and a render block. */
    int64_t heard_until = tt_time_mono_ns() - (TT_ONSETS_CLICK_MS + 20) * 1000000LL;
    for (int i = 0; i < env.n; i++) /* agents first, then the coordinator */
        if (i > 0)
            bench_stop(&env, env.pids[i]);

    /* Expected click times from the map: count-off, then every beat. */
    tt_click_t c;
    int64_t expected[MAX_ONSETS];
    int n_exp = 0;
    int64_t t0 = tt_tempo_start_ns(map);
    for (int64_t t = t0; n_exp < MAX_ONSETS && tt_tempo_next_click(map, t, &c) == 0 &&
                         roll_start + (c.ns - t0) < heard_until;
         t = c.ns + 1)
        expected[n_exp++] = roll_start + (c.ns - t0);
    int64_t cue_origin = roll_start - t0;
    int n_common = 0;
    for (int i = 0; i < ROOMS; i++) {
        if (tt_wav_clock_read(rooms[i].wav, &rooms[i].clock, why) != 0 ||
            tt_onsets_read(rooms[i].wav, 0, &rooms[i].onsets, why) != 0) {
            fprintf(stderr, "tutti-bench-click: %s\n", why);
            goto out;
        }
        ltc_check_t lc = {&rooms[i], cue_origin, tt_tempo_start_frame(map), tt_tempo_fps(map),
                          roll_start};
        if (tt_ltc_read_file(rooms[i].wav, 2, tt_tempo_fps(map), check_ltc_frame, &lc, why) != 0)
            fprintf(stderr, "tutti-bench-click: LTC of %s: %s\n", rooms[i].name, why);
    }
    /* Match every onset to the nearest click of the map; a room that missed
     * the first clicks of a late roll still lines up beat for beat. */
    double spread = 0, model = 0;
    const double per_sample = 1e9 / 48000.0;
    static int64_t heard[ROOMS][MAX_ONSETS];
    static char have[ROOMS][MAX_ONSETS];
    int matched = 0;
    for (int i = 0; i < ROOMS; i++) {
        int e = 0;
        for (size_t k = 0; k < rooms[i].onsets.n && n_exp > 0; k++) {
            int64_t t = rooms[i].onsets.ns[k];
            while (e + 1 < n_exp && llabs(expected[e + 1] - t) < llabs(expected[e] - t))
                e++;
            double err = fabs((double)(t - expected[e])) / per_sample;
            if (err > 240)
                continue; /* not a click of this roll (5 ms away from every beat) */
            model = err > model ? err : model;
            heard[i][e] = t;
            have[i][e] = 1;
        }
    }
    for (int e = 0; e < n_exp; e++) {
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        int all = 1;
        for (int i = 0; i < ROOMS; i++) {
            all &= have[i][e];
            if (have[i][e]) {
                lo = heard[i][e] < lo ? heard[i][e] : lo;
                hi = heard[i][e] > hi ? heard[i][e] : hi;
            }
        }
        if (!all)
            continue;
        matched++;
        double sp = (double)(hi - lo) / per_sample;
        spread = sp > spread ? sp : spread;
    }
    n_common = matched;
    json_t *o = json_object();
    json_object_set_new(o, "onsets", json_integer(n_common));
    json_object_set_new(o, "expected_clicks", json_integer(n_exp));
    json_object_set_new(o, "max_spread_samples", json_real(spread));
    json_object_set_new(o, "max_model_error_samples", json_real(model));
    long frames = 0, bad = 0;
    for (int i = 0; i < ROOMS; i++) {
        frames += rooms[i].ltc_frames;
        bad += rooms[i].ltc_bad;
    }
    json_object_set_new(o, "ltc_frames", json_integer(frames));
    json_object_set_new(o, "ltc_errors", json_integer(bad));
    char *out_s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    puts(out_s);
    free(out_s);
    json_decref(o);
    rc = n_common > 0 ? 0 : 1;
out:
    tt_client_destroy(&cl);
    if (ctx)
        zmq_ctx_term(ctx);
    tt_keypair_destroy(&op);
    tt_tempo_destroy(&map);
    free(map_text);
    for (int i = 0; i < ROOMS; i++)
        tt_onsets_free(&rooms[i].onsets);
    bench_env_cleanup(&env);
    return rc;
}
