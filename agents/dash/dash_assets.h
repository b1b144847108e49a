/* dash_assets: the dashboard's HTML, CSS and JavaScript, compiled in from
 * agents/dash/ by agents/dash_embed.cmake. */
#ifndef DASH_ASSETS_H
#define DASH_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path; /* "/index.html" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} dash_asset_t;

extern const dash_asset_t dash_assets[];
extern const size_t dash_asset_count;

#endif
