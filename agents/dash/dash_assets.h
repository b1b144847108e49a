/* dash_assets: the dashboard's HTML, CSS and JavaScript, compiled in from
 * agents/dash/web/ by common/web/tt_web_embed.cmake. */
#ifndef DASH_ASSETS_H
#define DASH_ASSETS_H

#include <stddef.h>

#include "tt_web.h"

extern const tt_web_asset_t dash_assets[];
extern const size_t dash_asset_count;

#endif
