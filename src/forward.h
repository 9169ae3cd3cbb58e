/* forward.h - open and close port forwards in libslirp (see forward.c). */
#pragma once

#include "api_proto.h"

#include <slirp/libslirp.h>

/* Listen on fw's host address and port (choosing one when it is 0) and forward to the guest. */
bool forward_open(Slirp *slirp, struct forward *fw, GError **err);
void forward_close(Slirp *slirp, const struct forward *fw);
