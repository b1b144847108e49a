/* agent_manifest: the upload manifest NAME.wav.json that agent_capture
 * writes beside each recording, read back as the Media record to offer.
 *
 * A manifest is a file anyone with access to the capture directory may
 * edit, so it is read as hostile: every field is type- and range-checked
 * before it is narrowed, and a missing or bad one is named. The decoder
 * works on parsed JSON and allocates nothing: the Media strings point into
 * the JSON object, which must outlive them. fuzz_upload_manifest runs it
 * on arbitrary bytes.
 */
#ifndef AGENT_MANIFEST_H
#define AGENT_MANIFEST_H

#include <jansson.h>
#include <stdint.h>

#include "tutti.pb-c.h"

/* Fills *media (initialised here; cue, room and input point into o, hash
 * into hash[32]) from manifest object o. 0, or TT_ERR_INVALID with the
 * field named in why (TT_WHY_LEN bytes). Optional fields (time_reference,
 * punch bars) read as absent when out of range. */
int agent_manifest_decode(const json_t *o, Tutti__Media *media, uint8_t hash[32], char *why);

#endif
