/* display_assets: the room display's HTML, CSS and JavaScript, compiled in
 * from agents/room/web/ by common/web/tt_web_embed.cmake. */
#ifndef DISPLAY_ASSETS_H
#define DISPLAY_ASSETS_H

#include <stddef.h>

#include "tt_web.h"

extern const tt_web_asset_t display_assets[];
extern const size_t display_asset_count;

#endif
