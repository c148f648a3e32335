/*
 * fuzz_reply.c - procket_reply_decode_flags() on arbitrary bytes. A reply
 * that decodes carries an errno in 0..4095 and known flags (none on a
 * success), re-encodes to the same bytes, and procket_reply_decode()
 * agrees on it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "procket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char buf[PROCKET_REPLY_LEN];
    unsigned flags = 99;
    int error = -1, plain = -1, rc;

    errno = 12345;
    rc = procket_reply_decode_flags(&error, &flags, data, size);
    if ((procket_reply_decode(&plain, data, size) == 0) != (rc == 0))
        abort();
    if (rc == 0) {
        if (error < 0 || error > 4095 || size != PROCKET_REPLY_LEN || plain != error ||
            (flags & ~PROCKET_REPLY_UNPRIVILEGED) != 0 || (flags != 0 && error == 0))
            abort();
        if (procket_reply_encode_flags(error, flags, buf, sizeof(buf)) != PROCKET_REPLY_LEN ||
            memcmp(buf, data, size) != 0)
            abort();
    }
    if (errno != 12345)
        abort();
    return 0;
}
