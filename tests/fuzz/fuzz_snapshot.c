/* libFuzzer target: a stored snapshot of the fold over untrusted bytes.
 *
 * A snapshot comes from the program's own disk, but a damaged one must be
 * refused, never misread. The input is taken twice: as a stored Snapshot
 * value (tt_snapshot_open under the key it names, then its state decoded),
 * and as SessionState bytes straight to tt_session_snap_decode. Whatever
 * decodes must be a fixed point (encoded and decoded again it equals
 * itself, field by field) and must fold on: a note, players in, a change
 * and, when it has a cue, a roll, each growing the lists restored with
 * their exact capacities. The input is an exact-size heap copy, so a read
 * past the end is an ASan report.
 */
#include "tt_error.h"
#include "tt_session.h"
#include "tt_session_snap.h"
#include "tt_snapshot.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void apply_or_stop(tt_session_t *s, Tutti__Record *rec)
{
    uint8_t hash[TT_HASH_LEN] = {7};
    char why[TT_WHY_LEN];
    rec->seq = s->last_seq + 1;
    (void)tt_session_apply(s, rec, hash, why); /* refusals are fine; crashes are not */
}

static void fold_on(tt_session_t *s)
{
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Note note = TUTTI__NOTE__INIT;
    note.text = "after the snapshot";
    rec.body_case = TUTTI__RECORD__BODY_NOTE;
    rec.note = &note;
    uint8_t key[16] = {1, 2, 3};
    rec.idempotency_key.data = key;
    rec.idempotency_key.len = sizeof key;
    apply_or_stop(s, &rec);

    Tutti__Presence p = TUTTI__PRESENCE__INIT;
    char *in[] = {"Player A", "Player B"};
    p.room = "stage";
    p.in = in;
    p.n_in = 2;
    rec = (Tutti__Record)TUTTI__RECORD__INIT;
    rec.body_case = TUTTI__RECORD__BODY_PRESENCE;
    rec.presence = &p;
    apply_or_stop(s, &rec);

    if (s->n_cues == 0)
        return;
    Tutti__Change ch = TUTTI__CHANGE__INIT;
    ch.cue = s->cues[0].name;
    ch.text = "bar 3: tacet";
    rec = (Tutti__Record)TUTTI__RECORD__INIT;
    rec.body_case = TUTTI__RECORD__BODY_CHANGE;
    rec.change = &ch;
    apply_or_stop(s, &rec);

    Tutti__Roll roll = TUTTI__ROLL__INIT;
    roll.cue = s->cues[0].name;
    roll.take = tt_session_next_take(s, s->cues[0].name);
    rec = (Tutti__Record)TUTTI__RECORD__INIT;
    rec.body_case = TUTTI__RECORD__BODY_ROLL;
    rec.roll = &roll;
    apply_or_stop(s, &rec);
}

/* Decoded state s must survive its own encoding and fold on. */
static void check_state(tt_session_t *s)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    char why[TT_WHY_LEN];
    if (tt_session_snap_encode(s, &bytes, &len, why) != 0)
        abort();
    tt_session_t again;
    tt_session_init(&again);
    if (tt_session_snap_decode(&again, bytes, len, why) != 0)
        abort();
    free(bytes);
    char where[256];
    if (tt_session_snap_diff(s, &again, where, sizeof where) != 0)
        abort();
    fold_on(&again);
    tt_session_clear(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    char why[TT_WHY_LEN];

    /* As a stored value, under the key it names (and under another). */
    Tutti__Snapshot *raw = tutti__snapshot__unpack(NULL, size, copy);
    uint64_t keys[2] = {raw ? raw->seq : 1, 12345};
    if (raw)
        tutti__snapshot__free_unpacked(raw, NULL);
    for (int k = 0; k < 2; k++) {
        Tutti__Snapshot *snap = NULL;
        if (tt_snapshot_open(copy, size, keys[k], &snap, why) != 0)
            continue;
        if (snap->seq != keys[k] || snap->head_hash.len != TT_HASH_LEN)
            abort();
        tt_session_t s;
        tt_session_init(&s);
        if (tt_session_snap_decode(&s, snap->state.data, snap->state.len, why) == 0)
            check_state(&s);
        tt_session_clear(&s);
        tutti__snapshot__free_unpacked(snap, NULL);
    }

    /* As the state itself. */
    tt_session_t s;
    tt_session_init(&s);
    if (tt_session_snap_decode(&s, copy, size, why) == 0)
        check_state(&s);
    tt_session_clear(&s);
    free(copy);
    return 0;
}
