/* test_wire_text: a NUL byte inside any string field of an envelope is
 * refused at decode (it used to cut the string short unseen); bytes fields
 * may hold NUL; malformed input is left to the decoder and never crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tt_error.h"
#include "tt_wire.h"
#include "tt_wire_text.h"

/* Packs env (version set) into a malloc'd buffer. */
static uint8_t *pack(Tutti__Envelope *env, size_t *len)
{
    env->version = TT_PROTOCOL_VERSION;
    *len = tutti__envelope__get_packed_size(env);
    uint8_t *buf = malloc(*len);
    assert_non_null(buf);
    tutti__envelope__pack(env, buf);
    return buf;
}

/* Replaces the first '#' in buf with NUL (the marker protobuf-c cannot
 * pack itself: it measures strings with strlen). */
static void plant_nul(uint8_t *buf, size_t len)
{
    uint8_t *p = memchr(buf, '#', len);
    assert_non_null(p);
    *p = 0;
}

static void test_note_with_nul_refused(void **state)
{
    (void)state;
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__NoteRequest note = TUTTI__NOTE_REQUEST__INIT;
    note.text = "bars 12-16#horns tacet";
    env.body_case = TUTTI__ENVELOPE__BODY_NOTE;
    env.note = &note;
    size_t len;
    uint8_t *buf = pack(&env, &len);
    Tutti__Envelope *out = NULL;
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_wire_decode(buf, len, &out, why), 0); /* clean: decodes */
    assert_string_equal(out->note->text, "bars 12-16#horns tacet");
    tutti__envelope__free_unpacked(out, NULL);

    plant_nul(buf, len);
    /* What protobuf-c alone makes of it: the text cut at the NUL. */
    Tutti__Envelope *raw = tutti__envelope__unpack(NULL, len, buf);
    assert_non_null(raw);
    assert_string_equal(raw->note->text, "bars 12-16");
    tutti__envelope__free_unpacked(raw, NULL);

    assert_int_equal(tt_wire_decode(buf, len, &out, why), TT_ERR_PROTOCOL);
    assert_null(out);
    assert_non_null(strstr(why, "NoteRequest.text carries a NUL byte"));
    free(buf);
}

static void test_repeated_string_in_nested_message(void **state)
{
    (void)state;
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Presence p = TUTTI__PRESENCE__INIT;
    char *in[] = {"Anne Lee", "Bo#b"};
    p.room = "stage";
    p.in = in;
    p.n_in = 2;
    env.body_case = TUTTI__ENVELOPE__BODY_PRESENCE;
    env.presence = &p;
    size_t len;
    uint8_t *buf = pack(&env, &len);
    plant_nul(buf, len);
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_wire_text_check(&tutti__envelope__descriptor, buf, len, why),
                     TT_ERR_PROTOCOL);
    assert_non_null(strstr(why, "Presence.in"));
    free(buf);
}

static void test_bytes_may_hold_nul(void **state)
{
    (void)state;
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__HelloReply hr = TUTTI__HELLO_REPLY__INIT;
    uint8_t key[32] = {0}; /* all NUL */
    hr.name = "stage";
    hr.role = "room";
    hr.signing_public_key.data = key;
    hr.signing_public_key.len = sizeof key;
    env.body_case = TUTTI__ENVELOPE__BODY_HELLO_REPLY;
    env.hello_reply = &hr;
    size_t len;
    uint8_t *buf = pack(&env, &len);
    Tutti__Envelope *out = NULL;
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_wire_decode(buf, len, &out, why), 0);
    assert_int_equal(out->hello_reply->signing_public_key.len, 32);
    tutti__envelope__free_unpacked(out, NULL);
    free(buf);
}

static void test_malformed_never_crashes(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    /* Truncated lengths, a length past the end, junk wire types. */
    static const uint8_t cases[][12] = {
        {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f},
        {0x0a, 0x05, 0x00},
        {0xff, 0xff, 0xff},
        {0x0b, 0x0c},
        {0x12, 0x02, 0x0a},
        {0x80},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_int_equal(
            tt_wire_text_check(&tutti__envelope__descriptor, cases[i], sizeof cases[i], why), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_note_with_nul_refused),
        cmocka_unit_test(test_repeated_string_in_nested_message),
        cmocka_unit_test(test_bytes_may_hold_nul),
        cmocka_unit_test(test_malformed_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
